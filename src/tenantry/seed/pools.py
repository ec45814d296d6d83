"""Value pools for the generator, drawn once from Faker (de_DE) with a fixed seed.

Faker is slow per call, so it fills pools of names, streets and cities; rows then draw from the
pools with a seeded `random.Random`. E-mail addresses only ever use reserved domains.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CITIES", "EMAIL_DOMAINS", "VERTICAL_MIX_NAMES", "Pools", "build_pools"]

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

VERTICAL_MIX_NAMES = (("restaurant", 55), ("workshop", 30), ("caterer", 15))

# (city, plate code, postal prefix, latitude, longitude)
CITIES = (
    ("Berlin", "B", "10", 52.520, 13.405),
    ("Hamburg", "HH", "20", 53.551, 9.994),
    ("München", "M", "80", 48.137, 11.575),
    ("Köln", "K", "50", 50.938, 6.960),
    ("Frankfurt am Main", "F", "60", 50.110, 8.682),
    ("Stuttgart", "S", "70", 48.776, 9.183),
    ("Düsseldorf", "D", "40", 51.227, 6.773),
    ("Leipzig", "L", "04", 51.340, 12.375),
    ("Dortmund", "DO", "44", 51.514, 7.466),
    ("Essen", "E", "45", 51.456, 7.012),
    ("Bremen", "HB", "28", 53.079, 8.802),
    ("Dresden", "DD", "01", 51.050, 13.738),
    ("Hannover", "H", "30", 52.376, 9.732),
    ("Nürnberg", "N", "90", 49.452, 11.077),
    ("Münster", "MS", "48", 51.960, 7.626),
    ("Freiburg im Breisgau", "FR", "79", 47.999, 7.842),
)

VEHICLES = (
    ("Volkswagen", ("Golf", "Polo", "Passat", "Tiguan", "ID.3", "Touran")),
    ("Mercedes-Benz", ("A-Klasse", "C-Klasse", "E-Klasse", "GLC", "Vito")),
    ("BMW", ("1er", "3er", "5er", "X1", "X3", "i3")),
    ("Audi", ("A3", "A4", "A6", "Q3", "Q5")),
    ("Opel", ("Corsa", "Astra", "Insignia", "Mokka")),
    ("Ford", ("Fiesta", "Focus", "Kuga", "Transit")),
    ("Skoda", ("Fabia", "Octavia", "Superb", "Kodiaq")),
    ("Seat", ("Ibiza", "Leon", "Ateca")),
    ("Toyota", ("Yaris", "Corolla", "RAV4")),
    ("Renault", ("Clio", "Megane", "Zoe")),
    ("Hyundai", ("i20", "i30", "Tucson")),
    ("Fiat", ("500", "Panda", "Tipo")),
)

CUISINES = (
    "italienisch",
    "deutsch",
    "griechisch",
    "türkisch",
    "japanisch",
    "vietnamesisch",
    "indisch",
    "mexikanisch",
    "libanesisch",
    "vegan",
    "burger",
    "pizza",
)

SERVICES = {
    "restaurant": (
        ("menu_item", "Mittagsmenü", "Mittag", 1290, 60),
        ("menu_item", "Degustationsmenü", "Abend", 7900, 180),
        ("menu_item", "Familienplatte", "Abend", 4900, 120),
        ("service_package", "Tischreservierung Gruppe", "Reservierung", 0, 120),
        ("addon", "Weinbegleitung", "Getränke", 3900, None),
    ),
    "workshop": (
        ("workshop_service", "Inspektion", "Wartung", 24900, 180),
        ("workshop_service", "HU/AU (TÜV)", "Prüfung", 13900, 60),
        ("workshop_service", "Ölwechsel", "Wartung", 8900, 45),
        ("workshop_service", "Reifenwechsel", "Reifen", 4900, 30),
        ("workshop_service", "Bremsen vorne", "Reparatur", 32900, 120),
        ("workshop_service", "Klimaservice", "Wartung", 9900, 60),
    ),
    "caterer": (
        ("catering_package", "Hibachi-Menü pro Person", "Catering", 5500, 180),
        ("catering_package", "Fingerfood-Buffet pro Person", "Catering", 2900, 240),
        ("catering_package", "BBQ-Paket pro Person", "Catering", 3900, 240),
        ("addon", "Servicepersonal pro Stunde", "Personal", 3500, 60),
        ("addon", "Anfahrt", "Logistik", 8000, None),
    ),
}


@dataclass(frozen=True)
class Pools:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    company_words: tuple[str, ...]


def _clean(value: str) -> str:
    """No characters that need escaping in COPY text format."""
    return value.replace("\\", "").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def build_pools(seed: int) -> Pools:
    from faker import Faker

    fake = Faker("de_DE")
    fake.seed_instance(seed)
    first = sorted({_clean(fake.first_name()) for _ in range(600)})
    last = sorted({_clean(fake.last_name()) for _ in range(800)})
    streets = sorted({_clean(fake.street_name()) for _ in range(500)})
    words = sorted({_clean(fake.last_name()) for _ in range(200)})
    return Pools(tuple(first), tuple(last), tuple(streets), tuple(words))
