FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cognisim_site cognisim_site
COPY sessions sessions
COPY devices devices
COPY turns turns
COPY templates templates
COPY manage.py ./
RUN pip install --no-cache-dir -e .
ENV COGNISIM_HOME=/data
EXPOSE 8000
CMD ["python", "-m", "cognisim_site.web", "-b", "0.0.0.0", "-p", "8000", "--websocket-max-message-size", "65536", "--websocket-max-frame-size", "65536", "cognisim_site.asgi:application"]
