"""pancommons: the open data commons of a photon or neutron facility."""

__version__ = "0.1.0"
