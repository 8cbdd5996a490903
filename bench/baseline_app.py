"""The baseline for `bench/run.py`: a bare FastAPI `async def` endpoint, served the way arm-sim serves.

Same server stack as `arm_sim.app.server`: one process, uvicorn on uvloop + httptools, HTTPS with the
simulator's own certificate, no access log, keep-alive 30 s. Whatever arm-sim adds on top of this (routing,
auth, database, serialisation) is what the ratio in the benchmark measures.

    python bench/baseline_app.py --port 8999 --certfile HOME/server.pem --keyfile HOME/server-key.pem
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok", "name": "baseline"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--certfile", required=True)
    parser.add_argument("--keyfile", required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, ssl_certfile=args.certfile, ssl_keyfile=args.keyfile,
                loop="uvloop", http="httptools", log_level="warning", access_log=False,
                lifespan="off", timeout_keep_alive=30)


if __name__ == "__main__":
    main()
