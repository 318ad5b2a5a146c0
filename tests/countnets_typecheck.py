"""The runtime type checker the test suite applies to every countnets function.

beartype with the PEP 484 numeric tower, so that an ``int`` is accepted where a
``float`` is annotated (as Python's own typing rules say).
"""

from beartype import BeartypeConf, beartype

typechecker = beartype(conf=BeartypeConf(is_pep484_tower=True))
