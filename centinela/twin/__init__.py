"""Twin layer: Ditto model and protocol, Ditto client, embedded Ditto-compatible twin service."""
