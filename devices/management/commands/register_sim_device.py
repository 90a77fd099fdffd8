from django.core.management.base import BaseCommand, CommandParser

from devices.services import device_register_sim


class Command(BaseCommand):
    help = "Register simulated devices (by serial) and mark them available."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("serials", nargs="+")

    def handle(self, *args: object, serials: list[str], **options: object) -> None:
        for serial in serials:
            device = device_register_sim(serial=serial)
            self.stdout.write(f"{device.serial}: {device.status}")
