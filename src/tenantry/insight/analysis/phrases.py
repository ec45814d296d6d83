"""The sentences of the deterministic analyser, one set per rubric criterion.

Owns wording only: what a met criterion says (a strength), what an unmet one says (a weakness
or threat) and the title of the recommendation that would meet it. `{value}` is the value the
rubric judged, `{reference}` the value it was compared with. No personal data ever goes in:
the location's name is not used, only facts that carry none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tenantry.insight.facts import FactValue

__all__ = ["PHRASES", "SCORE_LABELS", "Phrase", "show"]


@dataclass(frozen=True)
class Phrase:
    good: str  # the criterion is met
    bad: str  # it is not (or only partly)
    title: str  # the recommendation that would meet it


SCORE_LABELS: Mapping[str, str] = {
    "gbp": "GBP",
    "web": "web",
    "social": "social",
    "competitors": "competitors",
    "overall": "overall",
}

PHRASES: Mapping[str, Phrase] = {
    "gbp.listed": Phrase(
        "The business has a Google listing.",
        "No Google listing was found for the business.",
        "Create and verify a Google Business Profile",
    ),
    "gbp.rating": Phrase(
        "Rated {value} on Google.",
        "Rated {value} on Google; from 4.3 on a rating stands out in search.",
        "Lift the Google rating: ask satisfied customers for a review",
    ),
    "gbp.reviews": Phrase(
        "{value} reviews on Google.",
        "Only {value} reviews on Google; from 100 on a listing looks established.",
        "Collect more Google reviews",
    ),
    "gbp.hours": Phrase(
        "Opening hours are listed on Google.",
        "Opening hours are missing on Google.",
        "Add the opening hours to the Google listing",
    ),
    "gbp.phone": Phrase(
        "A phone number is listed on Google.",
        "No phone number is listed on Google.",
        "Add a phone number to the Google listing",
    ),
    "gbp.website": Phrase(
        "The Google listing links to a website.",
        "The Google listing links to no website.",
        "Link the website from the Google listing",
    ),
    "gbp.latest_review": Phrase(
        "The latest Google review is {value} days old.",
        "The latest Google review is {value} days old; fresh reviews keep a listing visible.",
        "Invite recent customers to leave a Google review",
    ),
    "gbp.reply_rate": Phrase(
        "The owner replies to {value} of the Google reviews.",
        "The owner replies to only {value} of the Google reviews.",
        "Reply to every Google review",
    ),
    "gbp.description": Phrase(
        "The Google listing has a business description.",
        "The Google listing has no business description.",
        "Write a business description for the Google listing",
    ),
    "gbp.photos": Phrase(
        "{value} photos on the Google listing.",
        "Only {value} photos on the Google listing.",
        "Add photos to the Google listing",
    ),
    "web.reachable": Phrase(
        "The website is reachable.",
        "The website could not be loaded.",
        "Get the website loading again",
    ),
    "web.https": Phrase(
        "The website is served over HTTPS.",
        "The website is not served over HTTPS; browsers mark it as not secure.",
        "Serve the website over HTTPS",
    ),
    "web.mobile": Phrase(
        "The website is set up for mobile screens.",
        "The website is not set up for mobile screens (no viewport).",
        "Make the website mobile-friendly",
    ),
    "web.title": Phrase(
        "The website has a page title.",
        "The website has no page title.",
        "Give the home page a descriptive title",
    ),
    "web.description": Phrase(
        "The website has a meta description for search results.",
        "The website has no meta description for search results.",
        "Add a meta description to the home page",
    ),
    "web.structured_data": Phrase(
        "The website carries structured data (schema.org).",
        "The website carries no structured data (schema.org) for search engines.",
        "Add schema.org structured data (LocalBusiness) to the website",
    ),
    "web.hours": Phrase(
        "The website shows opening hours.",
        "The website shows no opening hours.",
        "Show the opening hours on the website",
    ),
    "web.phone": Phrase(
        "The website shows a phone number.",
        "The website shows no phone number.",
        "Show a phone number on the website",
    ),
    "web.menu": Phrase(
        "The website links a menu or service list.",
        "The website links no menu or service list.",
        "Put the menu or service list on the website",
    ),
    "web.booking": Phrase(
        "The website offers online booking.",
        "The website offers no online booking.",
        "Offer online booking on the website",
    ),
    "web.imprint": Phrase(
        "The website has an imprint (Impressum).",
        "The website has no imprint (Impressum), which German law requires.",
        "Add an imprint (Impressum) to the website",
    ),
    "web.speed": Phrase(
        "The website loads in {value}.",
        "The website takes {value} to load.",
        "Make the website load faster",
    ),
    "social.facebook": Phrase(
        "The business is on Facebook.",
        "No Facebook page was found (none connected, none linked from the website).",
        "Set up a Facebook page and link it from the website",
    ),
    "social.instagram": Phrase(
        "The business is on Instagram.",
        "No Instagram account was found (none connected, none linked from the website).",
        "Set up an Instagram account and link it from the website",
    ),
    "social.facebook_followers": Phrase(
        "{value} followers on Facebook.",
        "Only {value} followers on Facebook.",
        "Grow the Facebook audience",
    ),
    "social.instagram_followers": Phrase(
        "{value} followers on Instagram.",
        "Only {value} followers on Instagram.",
        "Grow the Instagram audience",
    ),
    "social.facebook_posts": Phrase(
        "{value} Facebook posts in the last 30 days.",
        "Only {value} Facebook posts in the last 30 days.",
        "Post on Facebook at least twice a week",
    ),
    "social.instagram_posts": Phrase(
        "{value} Instagram posts in the last 30 days.",
        "Only {value} Instagram posts in the last 30 days.",
        "Post on Instagram at least twice a week",
    ),
    "social.facebook_rating": Phrase(
        "Rated {value} on Facebook.",
        "Rated {value} on Facebook.",
        "Ask Facebook followers for recommendations",
    ),
    "social.instagram_media": Phrase(
        "{value} posts on Instagram in all.",
        "Only {value} posts on Instagram in all.",
        "Build up the Instagram feed",
    ),
    "competitors.rating": Phrase(
        "Rated {value}, at or above the nearby competitors' median of {reference}.",
        "Rated {value}, below the nearby competitors' median of {reference}.",
        "Close the rating gap to nearby competitors",
    ),
    "competitors.reviews": Phrase(
        "{value} reviews, at least the nearby competitors' median of {reference}.",
        "{value} reviews, fewer than the nearby competitors' median of {reference}.",
        "Catch up with nearby competitors on review count",
    ),
}

_PERCENT = {"gbp.reply_rate"}
_MILLISECONDS = {"web.speed"}


def show(name: str, value: FactValue) -> str:
    """A value as the sentences of criterion `name` print it."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float) and name in _PERCENT:
        return f"{round(100 * float(value))} %"
    if isinstance(value, int | float) and name in _MILLISECONDS:
        return f"{float(value) / 1000:.1f} s"
    if isinstance(value, float):
        return f"{value:.1f}" if value != int(value) or value < 10 else f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return value[:100]
