"""Pure domain logic: no Django, Celery or boto3 imports below this package."""
