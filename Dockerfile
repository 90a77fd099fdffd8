# The CogniSim image: every process of the server (web, scheduler, workers, Flower) runs from it.
# It holds the project as a whole, less what .dockerignore leaves out, so a new app cannot be forgotten.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 COGNISIM_HOME=/data
WORKDIR /app

# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['flower']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
 && useradd --system --uid 10001 --no-create-home --home-dir /data cognisim \
 && mkdir -p /data && chown cognisim /data
USER cognisim

EXPOSE 8000
# No curl in a slim image: `cognisim probe` asks the URL. Compose gives workers their own check.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["cognisim", "probe", "http://127.0.0.1:8000/healthz"]
CMD ["cognisim", "web", "--host", "0.0.0.0", "--port", "8000"]
