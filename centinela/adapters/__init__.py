"""Edge adapters: Modbus TCP and OPC-UA into twins, simulators, store-and-forward."""
