"""nap-compose: docker-compose for a cluster of Docker hosts on one flat layer-2 network."""

__version__ = "0.1.0"
