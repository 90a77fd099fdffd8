from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from sessions.accounts import api_user_create


class Command(BaseCommand):
    help = "Create (or update) an API user and print its token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--max-sessions", type=int, default=None, help="override MAX_ACTIVE_SESSIONS_PER_USER")
        parser.add_argument(
            "--host-agent",
            nargs="?",
            const=True,
            default=None,
            metavar="HOST",
            help="a token for `cognisim agent` on HOST (default: NAME): it speaks for that host's devices only",
        )

    def handle(
        self, *args: object, name: str, max_sessions: int | None, host_agent: bool | str | None, **options: object
    ) -> None:
        host = host_agent if isinstance(host_agent, str) else None
        try:
            token = api_user_create(username=name, max_sessions=max_sessions, host_agent=bool(host_agent), host=host)
        except DatabaseError as exc:
            raise CommandError(
                f"The database is not ready ({exc}). Run `./dev up` once (it creates it), with the same "
                "COGNISIM_HOME or DATABASE_URL as this command, or `python manage.py migrate`."
            ) from None
        self.stdout.write(token)
