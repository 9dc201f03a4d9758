"""Serve a simulated vendor API over HTTP on this machine.

The server speaks the vendor's own wire format, so the vendor's SDK works
against it by changing only the endpoint. Every answer is SIMULATED (header
X-Dicore-Simulated: true): an offline ArcFace recognizer, the vendor's
reporting policy, and a gallery of known people (default: the credited photos
in simulators/photos/: Barack Obama, Rishi Sunak, Emmanuel Macron, Jacinda Ardern).

examples:
  dicore serve aws                         # Rekognition on http://127.0.0.1:8765
  dicore serve azure --port 9000 --key K   # Computer Vision + Face, key K required
  dicore serve naver --gallery my_people/  # gallery from my_people/<name>/*.jpg
  dicore serve aws --gallery gallery.npz   # a saved gallery (simulators.gallery)

  dicore serve aws --faults throttle=0.05,server-error=0.02,latency=50ms:200ms --seed 7
                                           # fail like the vendor does, reproducibly

Ctrl-C (SIGINT) or SIGTERM stops the server cleanly, even when started in the
background with SIGINT ignored. SigV4 signatures (AWS) are accepted, not verified.
See docs/servers.md for the operations, errors and limits simulated.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from dicore.errors import UserError

NAME = "serve"
HELP = "serve a simulated vendor API (aws, azure, naver) over local HTTP"
DEFAULT_PORTS = {"aws": 8765, "azure": 8766, "naver": 8767}

USAGE = {
    "aws": """\
  boto3:   boto3.client("rekognition", region_name="us-east-1", endpoint_url="{url}",
                        aws_access_key_id="test", aws_secret_access_key="test")
           (or: export AWS_ENDPOINT_URL_REKOGNITION={url})
  dicore:  export DICORE_AWS_ENDPOINT={url}   (the live backend then talks to this server)
           dicore record --vendor aws --images DIR --endpoint {url}""",
    "azure": """\
  Computer Vision: ComputerVisionClient("{url}", CognitiveServicesCredentials("{key}"))
                   .analyze_image_by_domain_in_stream("celebrities", open("img.jpg", "rb"))
  Face:            FaceClient("{url}", AzureKeyCredential("{key}")).detect(...) / .verify_face_to_face(...)
  curl:            curl -H "Ocp-Apim-Subscription-Key: {key}" -H "Content-Type: application/octet-stream" \\
                        --data-binary @img.jpg {url}/vision/v3.2/models/celebrities/analyze
  dicore:          export DICORE_AZURE_ENDPOINT={url}
                   dicore record --vendor azure --images DIR --endpoint {url}""",
    "naver": """\
  requests: requests.post("{url}/vision/v1/celebrity", files={{"image": open("img.jpg", "rb")}},
                          headers={{"X-NCP-APIGW-API-KEY-ID": "id", "X-NCP-APIGW-API-KEY": "{key}"}})
  dicore:   export DICORE_NAVER_ENDPOINT={url}
            dicore record --vendor naver --images DIR --endpoint {url}""",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "vendor", choices=sorted(DEFAULT_PORTS), help="which vendor API to simulate"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port (default: aws 8765, azure 8766, naver 8767; 0 picks a free one)",
    )
    parser.add_argument(
        "--gallery",
        type=Path,
        default=None,
        help="known people: a folder <name>/*.jpg or a saved gallery .npz "
        "(default: the credited photos in simulators/photos/)",
    )
    parser.add_argument(
        "--key",
        default=None,
        help="require this key (Azure Ocp-Apim-Subscription-Key, Naver X-NCP-APIGW-API-KEY); "
        "default: any non-empty key",
    )
    parser.add_argument(
        "--face-ttl",
        type=int,
        default=86400,
        metavar="SECONDS",
        help="Azure: default lifetime of faceIds, 60..86400 (default 86400)",
    )
    parser.add_argument(
        "--faults",
        default=None,
        metavar="SPEC",
        help="inject the vendor's own errors: throttle=P,server-error=P,latency=LOW:HIGH "
        "(e.g. throttle=0.05,server-error=0.02,latency=50ms:200ms); reproducible for a --seed",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the vendor's distractor celebrities and of the --faults draws",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")


def _gallery(path: Path | None, recognizer):
    if path is None:
        return None
    from simulators.errors import GalleryError
    from simulators.gallery import Gallery

    try:
        if path.is_dir():
            return Gallery.from_folder(path, recognizer)
        if path.suffix == ".npz":
            return Gallery.load(path, expected_model_id=recognizer.model_id)
    except GalleryError as exc:
        raise UserError(
            str(exc), "a gallery is a folder <name>/*.jpg or a .npz saved by Gallery.save"
        ) from None
    raise UserError(
        f"--gallery {path}: not a folder or a .npz file",
        "a gallery is a folder <name>/*.jpg (one sub-folder per person) or a .npz saved by Gallery.save",
    )


def _faults(text: str | None):
    from simulators.faults import FaultSpec

    try:
        return FaultSpec.parse(text)
    except ValueError as exc:
        raise UserError(
            f"--faults {text}: {exc}",
            "e.g. --faults throttle=0.05,server-error=0.02,latency=50ms:200ms",
        ) from None


def run(args: argparse.Namespace) -> int:
    from simulators.servers import make_app
    from simulators.servers.transport import SimulatorServer
    from simulators.vendor import SimulatedVendor

    port = DEFAULT_PORTS[args.vendor] if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port} is not a TCP port", "use 0..65535 (0 picks a free port)")
    if args.vendor == "azure" and not 60 <= args.face_ttl <= 86400:
        raise UserError(
            f"--face-ttl {args.face_ttl} is out of range", "Azure allows 60..86400 seconds"
        )
    faults = _faults(args.faults)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: binding {args.host}: the simulator is reachable from other machines",
            file=sys.stderr,
        )

    print(f"loading the simulated {args.vendor} vendor (ArcFace, gallery) ...", flush=True)
    from simulators.errors import RecognizerError
    from simulators.recognizer import default_recognizer

    try:
        recognizer = default_recognizer()
        vendor = SimulatedVendor(
            args.vendor,
            gallery=_gallery(args.gallery, recognizer),
            recognizer=recognizer,
            seed=args.seed,
        )
    except RecognizerError as exc:
        raise UserError(
            str(exc), "install the simulator extra: pip install 'dicore[sim]'"
        ) from None
    options: dict = {}
    if args.vendor == "azure":
        options = {"key": args.key, "face_ttl_s": args.face_ttl}
    elif args.vendor == "naver":
        options = {"key": args.key}
    app = make_app(args.vendor, vendor, faults=faults, seed=args.seed, **options)
    try:
        server = SimulatorServer(app, args.host, port, verbose=args.verbose)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {args.host}:{port}: {exc.strerror or exc}",
            "pick another --port (0 picks a free one)",
        ) from None
    return _serve(server, args, vendor, faults)


def _serve(server, args: argparse.Namespace, vendor, faults) -> int:
    """Serve until SIGINT or SIGTERM. Both are handled explicitly: a background job of a
    non-interactive shell starts with SIGINT ignored, and SIGTERM's default is a silent death."""
    received: list[int] = []
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, name="simulator", daemon=True)
    try:
        thread.start()
        url = server.url
        print(f"SIMULATED {args.vendor} API (not the real vendor) on {url}", flush=True)
        print(f"known people: {', '.join(vendor.gallery.names)}")
        if faults.active:
            print(f"injecting faults: {faults} (seed {args.seed})")
        # The key is never printed: the banner may end up in logs and terminal scrollback.
        key = "<your --key>" if args.key else "any-key"
        print(USAGE[args.vendor].format(url=url, key=key))
        print("Ctrl-C or SIGTERM to stop.", flush=True)
        while not stop.wait(0.2) and thread.is_alive():
            pass
    finally:
        name = signal.Signals(received[0]).name if received else None
        if name:
            print(f"received {name}: stopping the simulated {args.vendor} API ...", flush=True)
        server.close()
        thread.join(timeout=15)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not name:
        print(f"the simulated {args.vendor} API stopped unexpectedly", file=sys.stderr)
        return 1
    print(f"stopped the simulated {args.vendor} API ({name}; connections closed).", flush=True)
    return 0
