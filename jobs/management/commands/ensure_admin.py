from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the first admin user if there is none. Takes TRAINWATCH_ADMIN_USER and "
        "TRAINWATCH_ADMIN_PASSWORD from the environment, else makes up a password and prints it once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("An admin user exists already; log in with it.")
            return
        username = os.getenv("TRAINWATCH_ADMIN_USER", "admin")
        password = os.getenv("TRAINWATCH_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.create_superuser(username, "", password)
        shown = password if not os.getenv("TRAINWATCH_ADMIN_PASSWORD") else "(from TRAINWATCH_ADMIN_PASSWORD)"
        self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r} with password {shown}"))
