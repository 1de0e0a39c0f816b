"""Read a reasoned PaNET OWL file (``PaNET_reasoned.owl``, RDF/XML) with rdflib.

The alternative to classifying the ROBOT table ourselves: PaNET's releases run
a reasoner and publish the inferred hierarchy as plain ``rdfs:subClassOf``
edges between named classes, so here the hierarchy only needs closing
transitively.  Restrictions (blank-node superclasses) are skipped: in a
reasoned file their consequences are already among the named edges.

rdflib is an optional dependency (only this source needs it), hence the import
inside the function.
"""

from __future__ import annotations

from pancommons.panet.ontology import Ontology, OntologyError, Term

OWL = "http://www.w3.org/2002/07/owl#"
SKOS_ALT_LABEL = "http://www.w3.org/2004/02/skos/core#altLabel"
_NOT_TERMS = {OWL + "Thing", OWL + "Nothing"}


def ontology_from_owl(data: bytes, source: str) -> Ontology:
    """Terms (named ``owl:Class`` resources) and their closed ``subClassOf``/``equivalentClass``
    hierarchy; raises :class:`OntologyError` naming ``source`` when the file cannot be read."""
    try:
        import rdflib
        from rdflib.namespace import OWL as OWL_NS
        from rdflib.namespace import RDF, RDFS
    except ImportError as error:
        raise OntologyError(
            f"{source}: reading an OWL ontology needs rdflib (pip install rdflib)"
        ) from error

    graph = rdflib.Graph()
    try:
        graph.parse(data=data, format="xml")
    except Exception as error:
        raise OntologyError(f"{source}: not a readable RDF/XML ontology ({error})") from error

    classes = {
        str(node)
        for node in graph.subjects(RDF.type, OWL_NS.Class)
        if isinstance(node, rdflib.URIRef) and str(node) not in _NOT_TERMS
    }
    if not classes:
        raise OntologyError(f"{source}: the OWL file declares no named classes")
    terms = [_term(graph, iri, rdflib, RDFS) for iri in sorted(classes)]
    edges = [
        (str(sub), str(sup))
        for sub, sup in graph.subject_objects(RDFS.subClassOf)
        if str(sub) in classes and str(sup) in classes
    ]
    for a, b in graph.subject_objects(OWL_NS.equivalentClass):
        if str(a) in classes and str(b) in classes:  # equivalence: both directions
            edges += [(str(a), str(b)), (str(b), str(a))]
    return Ontology.from_edges(terms, edges, source=source)


def _term(graph, iri: str, rdflib, rdfs) -> Term:
    """Label: the English one if there are several; alt labels in a stable order."""
    node = rdflib.URIRef(iri)
    labels = list(graph.objects(node, rdfs.label))
    if labels:
        best = min(labels, key=lambda text: (getattr(text, "language", None) not in (None, "en"), str(text)))
        label = " ".join(str(best).split())
    else:
        label = iri
    alts = sorted({str(alt).strip() for alt in graph.objects(node, rdflib.URIRef(SKOS_ALT_LABEL))})
    return Term(iri, label, tuple(alt for alt in alts if alt))
