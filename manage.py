#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  (reads the settings now, to report a bad one)
    except ImproperlyConfigured as exc:
        # A setting that cannot be read names its variable; a traceback would only bury it.
        sys.exit(f"{os.path.basename(sys.argv[0])}: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
