"""The flat network: what each host's bridge network must be, and what is wrong with the addresses on it.

``desired`` describes the network every host must have and how a found one differs; ``check``
compares what the hosts' Docker reports with the address records (``network check``).
"""
