"""Generic (non-clinical) labelled sentences that teach a fresh GLiNER2 its task heads.

GLiNER2 LoRA freezes the task heads, so a GLiNER2 put together on a plain encoder (all-MiniLM-L6-v2 in the
offline profile) needs heads that already know *how* to extract "spans of the type named in the prompt"
before a LoRA run can teach it a task. `fastino/gliner2-base-v1` learned that from large general-domain
data; this module is the offline stand-in: everyday entity types (people, places, dates, money, ...) in
templated sentences. It deliberately contains none of the clinical labels (disease, drug, lab_test, gene,
procedure) and no text from the NER splits, so the base never sees the task it is later evaluated on and
the LoRA run has to earn the clinical scores itself.

Measured on the sample split: adding clinical-context types that are not the task's labels (symptom, body
part, specialty, vital sign, dose) made the LoRA run on top *worse* (exact micro-F1 0.43-0.45 vs 0.60 with the
same LoRA settings), presumably because the heads learned to claim note-like spans for those types. So the
base stays generic.
"""

from __future__ import annotations

import random
import re

# label -> (description, surfaces). Descriptions are what the prompt shows, as with the clinical schema.
LEXICON: dict[str, tuple[str, tuple[str, ...]]] = {
    "person": ("The name of a person", (
        "Anna Schmidt", "Luis Ortega", "Mei Chen", "John Carter", "Fatima Khan", "Olga Petrova", "Kwame Mensah",
        "Sofia Rossi", "Hiroshi Tanaka", "Emma Dubois", "Ravi Patel", "Lena Novak", "Carlos Silva", "Grace Kim",
        "Tom Becker", "Amira Haddad", "Noah Williams", "Ines Moreau", "Pavel Horak", "Julia Berg",
    )),
    "city": ("A city or town", (
        "Lyon", "Toronto", "Osaka", "Nairobi", "Porto", "Krakow", "Denver", "Bergen", "Seville", "Adelaide",
        "Leipzig", "Cusco", "Hanoi", "Tampere", "Bologna", "Quebec City", "San Diego", "Cape Town",
    )),
    "country": ("A country", (
        "Portugal", "Kenya", "Canada", "Japan", "Chile", "Norway", "Vietnam", "Poland", "Egypt", "Mexico",
        "New Zealand", "Austria", "Peru", "Finland", "Morocco", "Ireland",
    )),
    "organization": ("A company, institution or other organization", (
        "Northwind Traders", "the Red Cross", "Acme Corporation", "the city council", "Blue River Bank",
        "the national library", "Helios Energy", "the football club", "Orion Logistics", "the weather service",
        "Greenfield University", "Atlas Airlines", "the museum board", "Summit Media",
    )),
    "date": ("A calendar date or day", (
        "12 March 2021", "June 3", "last Tuesday", "1 October", "New Year's Day", "5 May 2019", "July 14",
        "the first of April", "23 November 2022", "next Friday", "Christmas Eve", "2 February",
    )),
    "time": ("A time of day", (
        "9:30 am", "noon", "7 pm", "midnight", "half past six", "18:45", "dawn", "quarter to five", "10 o'clock",
    )),
    "money": ("An amount of money", (
        "$1,200", "45 euros", "300 dollars", "£80", "2 million yen", "$19.99", "15,000 pesos", "500 francs",
    )),
    "percentage": ("A percentage", ("12%", "half a percent", "35 percent", "7.5%", "99%", "two percent", "60 %")),
    "language": ("A human language", (
        "Portuguese", "Swahili", "Mandarin", "Finnish", "Arabic", "Spanish", "Polish", "Hindi", "Greek", "Korean",
    )),
    "animal": ("An animal", (
        "a red fox", "two horses", "the cat", "a flock of geese", "dolphins", "a brown bear", "the old dog",
        "an owl", "sheep", "a tortoise", "bees",
    )),
    "food": ("A food or dish", (
        "paella", "fresh bread", "a bowl of ramen", "apple pie", "grilled fish", "lentil soup", "pancakes",
        "sushi", "goat cheese", "tomato salad", "dumplings",
    )),
    "sport": ("A sport or game", (
        "tennis", "cricket", "ice hockey", "chess", "basketball", "rowing", "volleyball", "cycling", "fencing",
    )),
    "vehicle": ("A vehicle or means of transport", (
        "a bicycle", "the night train", "a pickup truck", "the ferry", "a tram", "a small plane", "the bus",
        "a sailboat", "an electric scooter",
    )),
    "profession": ("A job or profession", (
        "carpenter", "teacher", "pilot", "journalist", "baker", "architect", "electrician", "librarian",
        "software engineer", "farmer", "translator",
    )),
    "instrument": ("A musical instrument", ("violin", "piano", "drums", "cello", "trumpet", "guitar", "flute", "harp")),
}

TEMPLATES: tuple[str, ...] = (
    "{person} moved from {city} to {country} on {date}.",
    "On {date}, {person} flew to {city} with {organization}.",
    "{organization} opened an office in {city} at {time}.",
    "{person} paid {money} for {food} in {city}.",
    "Prices in {country} rose by {percentage} after {date}.",
    "{person} speaks {language} and works as a {profession}.",
    "The {profession} from {city} plays the {instrument} every evening.",
    "We saw {animal} near the lake at {time}.",
    "{person} took {vehicle} to {city} to watch {sport}.",
    "{organization} donated {money} to a school in {country}.",
    "After {sport} practice, {person} ate {food}.",
    "The {instrument} lesson starts at {time} on {date}.",
    "{person} and {person#2} met in {city} on {date}.",
    "Sales of {vehicle} fell {percentage} in {country}.",
    "A {profession} named {person} translated the letter into {language}.",
    "{organization} hired {person} as a {profession}.",
    "In {city}, {animal} crossed the road at {time}.",
    "{person} learned {language} before moving to {country}.",
    "Tickets for the {sport} final cost {money}.",
    "{person} cooked {food} for {person#2} on {date}.",
    "The report by {organization} says {percentage} of people in {city} own {vehicle}.",
    "{person}, a {profession}, bought {animal} for {money}.",
    "Every {date} the town of {city} holds a {sport} tournament.",
    "{person} practised the {instrument} with {person#2} until {time}.",
    "Nobody in the room spoke {language}.",
    "The trip from {city} to {city#2} by {vehicle} took all day.",
    "{organization} reported a profit of {money}, up {percentage}.",
    "The weather was cold, so we stayed inside and played {sport}.",
    "She ordered {food} and a coffee at {time}.",
    "Local {profession}s in {country} earn about {money} a month.",
)

_SLOT = re.compile(r"\{([a-z_]+)(?:#\d)?\}")


def generic_examples(n: int, seed: int, negatives: int = 3) -> list[dict]:
    """`n` sentences in GLiNER2's training format, with char-span mentions and label descriptions.

    Each example also asks for `negatives` labels that do not occur in it (empty mention lists), so the
    heads learn to return nothing when a type is absent — the common case at inference time."""
    rng = random.Random(seed)
    labels = sorted(LEXICON)
    examples = []
    for _ in range(n):
        template = rng.choice(TEMPLATES)
        text, mentions, cursor = "", {}, 0
        used: set[str] = set()
        for match in _SLOT.finditer(template):
            label = match.group(1)
            surface = rng.choice([s for s in LEXICON[label][1] if s not in used] or LEXICON[label][1])
            used.add(surface)
            text += template[cursor:match.start()]
            start = len(text)
            text += surface
            mentions.setdefault(label, []).append({"text": surface, "start": start, "end": len(text)})
            cursor = match.end()
        text += template[cursor:]
        text = text[0].upper() + text[1:]
        if mentions and next(iter(mentions.values()))[0]["start"] == 0:  # keep spans true after capitalising
            for spans in mentions.values():
                for span in spans:
                    span["text"] = text[span["start"]:span["end"]]
        absent = [label for label in labels if label not in mentions]
        asked = {**mentions, **{label: [] for label in rng.sample(absent, min(negatives, len(absent)))}}
        examples.append({
            "input": text,
            "output": {
                "entities": asked,
                "entity_descriptions": {label: LEXICON[label][0] for label in asked},
            },
        })
    return examples
