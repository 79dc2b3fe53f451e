from typing import Any

from django.core.management.base import BaseCommand

from registry.services.demo import DEMO_ARTISTS, DEMO_ORGANIZATION, DEMO_PASSWORD, demo_load


class Command(BaseCommand):
    help = "Load the demo artists, works and AI team (once; later runs change nothing)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_load()
        if result.created:
            self.stdout.write(f"Demo data loaded. API key of {DEMO_ORGANIZATION}: {result.api_key}")
            self.stdout.write("(The key is shown once; `make demo-key` issues another.)")
        else:
            self.stdout.write("Demo data is present already.")
        logins = ", ".join(spec.username for spec in DEMO_ARTISTS)
        self.stdout.write(f"Artists: {logins}; operator: operator; password: {DEMO_PASSWORD}")
