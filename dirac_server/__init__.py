"""The thin reference server: a DiracX-compatible HTTP API over an Interware (extra 'server')."""
