from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create the first admin user if there is none. Takes TRAINWATCH_ADMIN_USER and "
        "TRAINWATCH_ADMIN_PASSWORD (checked by the password validators) from the environment; "
        "else makes up a password and shows it once, on a terminal only."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        if model.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin user exists already; log in with it.")
            return
        username = os.getenv("TRAINWATCH_ADMIN_USER", "admin")
        given = os.getenv("TRAINWATCH_ADMIN_PASSWORD")
        if given:
            try:
                validate_password(given, user=model(username=username))
            except ValidationError as exc:
                raise CommandError(f"TRAINWATCH_ADMIN_PASSWORD is refused: {' '.join(exc.messages)}") from None
            model.objects.create_superuser(username, "", given)
            self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r} with TRAINWATCH_ADMIN_PASSWORD"))
            return
        # A made-up password is shown once, and only to a person at a terminal:
        # output that goes to a file or a log collector would keep it there.
        if not self.stdout.isatty():
            model.objects.create_superuser(username, "", None)  # no usable password yet
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin user {username!r} without a password; set one with "
                    f"`python manage.py changepassword {username}` (or set TRAINWATCH_ADMIN_PASSWORD before the "
                    "first start)"
                )
            )
            return
        password = secrets.token_urlsafe(12)
        model.objects.create_superuser(username, "", password)
        self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r} with password {password}"))
        self.stdout.write("It is shown this once and kept nowhere else; change it after logging in.")
