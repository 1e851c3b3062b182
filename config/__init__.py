from .celery import app as celery_app
from .production import check_production_settings  # noqa: F401  (registers the deploy check)

__all__ = ("celery_app",)
