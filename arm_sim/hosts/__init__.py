"""HTTP edges, one package per simulated host: parse -> authenticate -> call a service -> serialise.

Each host owns its error envelope. Nothing outside hosts/ (and app/) knows FastAPI; nothing in here
writes SQL.
"""
