# SPDX-License-Identifier: Apache-2.0
"""Container names: validation and the `adjective_surname` names given to unnamed
containers (Docker's habit; the word lists are our own)."""

from __future__ import annotations

import random
import re

from dockyard.errors import InvalidParameter

_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_ADJECTIVES = (
    "agile amazing bold brave bright calm clever cool crisp curious daring eager elastic "
    "fervent focused gallant gentle happy hardy honest jolly keen kind lively lucid merry "
    "mighty modest nimble noble patient plucky polite proud quick quiet rapid serene sharp "
    "shiny silent sleepy smart snappy spry steady stoic sturdy sunny swift tender tidy "
    "upbeat vibrant vivid warm wise witty zealous"
).split()

_SURNAMES = (
    "agnesi babbage banach bernoulli bohr boole cantor carson cauchy curie darwin dijkstra "
    "euclid euler faraday fermat feynman franklin galois gauss germain goodall hamilton "
    "hilbert hopper hypatia jackson johnson kepler knuth kovalevskaya lamarr laplace "
    "leibniz liskov lovelace maxwell meitner mendel mirzakhani newton noether pascal "
    "poincare ramanujan riemann ritchie shannon somerville tesla thompson turing volta "
    "wiles wu yalow"
).split()


def validate(name: str) -> str:
    """`name` with its leading slash, or InvalidParameter with Docker's message."""
    if not _VALID.match(name):
        raise InvalidParameter(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name if name.startswith("/") else "/" + name


def generate(taken: set[str]) -> str:
    """A fresh `/adjective_surname` not in `taken` (a digit is added after many clashes)."""
    for attempt in range(100):
        name = f"/{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}"
        if attempt > 10:
            name += str(random.randint(0, 9))
        if name not in taken:
            return name
    raise RuntimeError("could not generate a unique container name")
