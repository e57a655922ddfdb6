"""Nakhon Sawan central welfare warehouse: the rooms are contract, generate, warehouse, validation,
ingest, orchestration and cli (each __init__ says its job); settings says where things live."""
