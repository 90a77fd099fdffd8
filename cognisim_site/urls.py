from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from . import health, openapi  # noqa: F401  (openapi: the schema's extensions register on import)

handler400 = "cognisim_site.errors.json_400"
handler404 = "cognisim_site.errors.json_404"
handler500 = "cognisim_site.errors.json_500"

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", health.metrics),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/", include("sessions.urls")),
    path("api/", include("devices.urls")),
    path("api/", include("runs.urls")),
    path("api/", include("turns.urls")),
    path("", include("ide.urls")),
]
