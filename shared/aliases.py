"""Human-friendly freight aliases (adjective-animal), derived from the freight id alone."""

from __future__ import annotations

ADJECTIVES = (
    "able", "agile", "amber", "ample", "apt", "azure", "bold", "brave", "brisk", "calm", "candid",
    "cheery", "civic", "clever", "cosmic", "crisp", "curious", "daring", "dapper", "eager", "early",
    "elegant", "epic", "fair", "fancy", "fearless", "fluent", "frank", "gentle", "gifted", "glad",
    "golden", "grand", "hardy", "hearty", "honest", "humble", "ideal", "jolly", "keen", "kind",
    "lively", "loyal", "lucid", "lucky", "merry", "mighty", "modest", "neat", "nimble", "noble",
    "patient", "plucky", "polite", "proud", "quick", "quiet", "rapid", "ready", "robust", "rosy",
    "savvy", "serene", "sharp", "shiny", "silent", "sincere", "smart", "snappy", "solid", "spry",
    "steady", "stellar", "sturdy", "sunny", "swift", "tidy", "tranquil", "trusty", "upbeat",
    "valiant", "vivid", "warm", "wise", "witty", "zany", "zealous", "zesty",
)

ANIMALS = (
    "albatross", "alpaca", "antelope", "badger", "beaver", "bison", "bobcat", "buffalo", "camel",
    "caribou", "cheetah", "cobra", "condor", "cougar", "coyote", "crane", "dingo", "dolphin",
    "donkey", "eagle", "falcon", "ferret", "finch", "flamingo", "fox", "gazelle", "gecko", "gibbon",
    "giraffe", "gopher", "heron", "hippo", "husky", "ibex", "iguana", "impala", "jackal", "jaguar",
    "kestrel", "koala", "lemur", "leopard", "lynx", "macaw", "magpie", "manatee", "marmot", "meerkat",
    "mink", "moose", "narwhal", "ocelot", "octopus", "orca", "osprey", "otter", "owl", "panda",
    "panther", "parrot", "pelican", "penguin", "puffin", "python", "quail", "rabbit", "raccoon",
    "raven", "reindeer", "robin", "salmon", "seal", "shark", "sloth", "sparrow", "squid", "stork",
    "swan", "tapir", "tiger", "toucan", "turtle", "urchin", "viper", "walrus", "weasel", "whale",
    "wolf", "wombat", "yak", "zebra",
)


def alias_for(freight_id: str) -> str:
    """Deterministic ``adjective-animal`` for a hex id (two ids may share an alias; ids never do)."""
    adjective = ADJECTIVES[int(freight_id[0:8], 16) % len(ADJECTIVES)]
    animal = ANIMALS[int(freight_id[8:16], 16) % len(ANIMALS)]
    return f"{adjective}-{animal}"
