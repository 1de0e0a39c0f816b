"""PaNET, the photon and neutron technique ontology: load, classify and query it.

``load_ontology(source, cache_dir)`` reads the ontology from a path or URL
(PaNET's ROBOT table ``PaNET.csv`` or a reasoned OWL file), classifies it and
caches the result; :class:`Ontology` answers the deep technique queries of the
search API (descendants, ancestors, names) with dictionary lookups.
"""

from __future__ import annotations

from pancommons.panet.ontology import Ontology, OntologyError, Term
from pancommons.panet.source import load_ontology

__all__ = ["Ontology", "OntologyError", "Term", "load_ontology"]
