#!/usr/bin/env python3
"""A strict stand-in for the parts of OpenStack (Keystone, Nova, Cinder, Glance, Neutron) that
provision's OpenStack backend uses, for tests that cannot reach a real cloud.

One HTTP server on 127.0.0.1 serves every service under a path prefix of its own:
    /identity/v3   /compute/v2.1   /volume/v3/{project_id}   /image/v2   /network/v2.0
Servers are real Docker containers of the project's SSH test-host image, so SSH to a server's
address works. Volumes are sparse files inside the container of the server they are attached to.

Written from the OpenStack API references and the services' behaviour; it is not OpenStack.
Python 3.11 standard library only.

    standin.py --port 8774 --config cloud.json --network-name os-standin --docker-image IMAGE
"""

import argparse
import base64
import datetime
import hashlib
import ipaddress
import json
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NOVA_MIN, NOVA_MAX = (2, 1), (2, 96)
CINDER_MIN, CINDER_MAX = (3, 0), (3, 70)
REGION = "Melbourne"
LABEL = "openstack-standin.network"
# Seconds between a server turning ACTIVE and cloud-init printing the host keys on the console.
HOST_KEYS_DELAY = 3.0
# Seconds a deleted server or volume stays visible (task_state deleting) before it is gone.
DELETE_DELAY = 1.0
# Seconds a volume or snapshot stays "creating".
CREATE_DELAY = 0.5


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def iso_z(t):
    """Nova, Glance and Neutron: 2023-04-27T00:56:27Z"""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def iso_micro(t):
    """Cinder and Nova's OS-SRV-USG fields: 2023-04-27T00:56:27.000000 (no zone)"""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") if t else None


def iso_keystone(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id():
    return str(uuid.uuid4())


def stable_id(*parts):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "openstack-standin:" + ":".join(parts)))


def is_uuid(value):
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def parse_bool(value):
    """oslo's strict bool_from_string, for values that already passed a schema."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "t", "true", "on", "y", "yes")


class ApiError(Exception):
    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


# Nova and Cinder wrap errors as {"<name>": {"code": N, "message": ...}}.
FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 409: "conflictingRequest", 413: "overLimit",
               415: "badMediaType", 429: "overLimit", 501: "notImplemented",
               503: "serviceUnavailable"}


def fault(status, message, **extra):
    inner = {"code": status, "message": message}
    inner.update(extra)
    return ApiError(status, {FAULT_NAMES.get(status, "computeFault"): inner})


def keystone_error(status, title, message):
    return ApiError(status, {"error": {"code": status, "title": title, "message": message}})


def unauthorized():
    return keystone_error(401, "Unauthorized", "The request you have made requires authentication.")


# ---------------------------------------------------------------------------------------------
# JSON-schema validation with the messages Nova's and Cinder's validators give (jsonschema's
# wording wrapped in "Invalid input for field/attribute ..."). Only the keywords used below.
# ---------------------------------------------------------------------------------------------

class SchemaError(Exception):
    def __init__(self, message, path, instance):
        super().__init__(message)
        self.message, self.path, self.instance = message, path, instance


JSON_TYPES = {"string": str, "object": dict, "array": list, "null": type(None)}


def type_ok(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    return isinstance(value, JSON_TYPES[name])


def schema_errors(schema, value, path=()):
    """Yields every SchemaError of value against schema, in the order jsonschema would."""
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(type_ok(value, t) for t in names):
            listed = ", ".join(repr(t) for t in names)
            yield SchemaError(f"{value!r} is not of type {listed}", path, value)
            return
    if "enum" in schema and not any(value == e and type(value) is type(e) for e in schema["enum"]):
        yield SchemaError(f"{value!r} is not one of {schema['enum']!r}", path, value)
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            text = "should be non-empty" if schema["minLength"] == 1 else "is too short"
            yield SchemaError(f"{value!r} {text}", path, value)
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield SchemaError(f"{value!r} is too long", path, value)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            yield SchemaError(f"{value!r} does not match {schema['pattern']!r}", path, value)
        if schema.get("format") == "uuid" and not is_uuid(value):
            yield SchemaError(f"{value!r} is not a 'uuid'", path, value)
    number = value if type_ok(value, "number") else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        number = int(value)  # Nova and Cinder compare numeric strings too
    if number is not None:
        if "minimum" in schema and number < schema["minimum"]:
            yield SchemaError(f"{value!r} is less than the minimum of {schema['minimum']}",
                              path, value)
        if "maximum" in schema and number > schema["maximum"]:
            yield SchemaError(f"{value!r} is greater than the maximum of {schema['maximum']}",
                              path, value)
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield SchemaError(f"{value!r} is too long", path, value)
        if "items" in schema:
            for i, item in enumerate(value):
                yield from schema_errors(schema["items"], item, path + (i,))
    if isinstance(value, dict):
        yield from object_errors(schema, value, path)
    if "oneOf" in schema:
        matches = [s for s in schema["oneOf"] if not any(True for _ in schema_errors(s, value))]
        if len(matches) != 1:
            text = "is not valid under any of the given schemas" if not matches else \
                "is valid under each of the given schemas"
            yield SchemaError(f"{value!r} {text}", path, value)


def object_errors(schema, value, path):
    props = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    for key in schema.get("required", []):
        if key not in value:
            yield SchemaError(f"{key!r} is a required property", path, value)
    for key, sub in value.items():
        if key in props:
            yield from schema_errors(props[key], sub, path + (key,))
        for pattern, psub in patterns.items():
            if re.search(pattern, key):
                yield from schema_errors(psub, sub, path + (key,))
    if schema.get("additionalProperties", True) is False:
        extra = [k for k in value if k not in props
                 and not any(re.search(p, k) for p in patterns)]
        if extra:
            if patterns:
                listed = ", ".join(repr(k) for k in sorted(extra))
                verb = "does" if len(extra) == 1 else "do"
                alts = ", ".join(repr(p) for p in sorted(patterns))
                yield SchemaError(f"{listed} {verb} not match any of the regexes: {alts}",
                                  path, value)
            else:
                listed = ", ".join(repr(k) for k in extra)
                verb = "was" if len(extra) == 1 else "were"
                yield SchemaError(
                    f"Additional properties are not allowed ({listed} {verb} unexpected)",
                    path, value)


def validate(schema, body):
    """Raises Nova's/Cinder's 400 for the most relevant error (the shallowest, as jsonschema's
    best_match picks)."""
    errors = list(schema_errors(schema, body))
    if not errors:
        return
    best = min(errors, key=lambda e: len(e.path))
    if best.path:
        detail = (f"Invalid input for field/attribute {best.path[-1]}. "
                  f"Value: {best.instance}. {best.message}")
    else:
        detail = best.message
    raise fault(400, detail)


NAME = {"type": "string", "minLength": 1, "maxLength": 255}
POSITIVE_INT = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1,
                "minLength": 1}
METADATA = {"type": "object",
            "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string",
                                                                  "maxLength": 255}},
            "additionalProperties": False}
BOOLEAN = {"type": ["boolean", "string"],
           "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                    "y", "t", False, "False", "FALSE", "false", "0", "OFF", "Off", "off",
                    "NO", "No", "no", "n", "f"]}
TAG = {"type": "string", "maxLength": 60, "pattern": "^[^,/]*$"}


# ---------------------------------------------------------------------------------------------
# Configuration and state
# ---------------------------------------------------------------------------------------------

FLAVORS = [  # Nectar's m3 family: (name, vcpus, ram MiB, root disk GB)
    ("m3.xsmall", 1, 2048, 10), ("m3.small", 1, 4096, 30), ("m3.medium", 2, 8192, 30),
    ("m3.large", 4, 16384, 30), ("m3.xlarge", 8, 32768, 30), ("m3.xxlarge", 16, 65536, 30),
]
IMAGES = ["NeCTAR Ubuntu 22.04 LTS (Jammy) amd64", "NeCTAR Ubuntu 24.04 LTS (Noble) amd64"]
SECURITY_GROUPS = {"default": "Default security group", "ssh": "SSH from anywhere",
                   "http": "HTTP and HTTPS from anywhere", "couchdb": "CouchDB 5984"}
DEFAULT_ZONES = {"melbourne-qh2": {}, "melbourne-qh2-uom": {}}
DEFAULT_QUOTAS = {"instances": 10, "cores": 20, "ram": 81920, "volumes": 10,
                  "gigabytes": 100, "snapshots": 10}


class Cloud:
    """Everything the stand-in knows, behind one lock."""

    def __init__(self, config, network_name, docker_image, base_url):
        self.lock = threading.RLock()
        self.base = base_url
        self.network_name = network_name
        self.docker = Docker(network_name, docker_image)
        project = config["project"]
        self.project = {"id": project.get("id") or stable_id("project", project["name"]),
                        "name": project["name"], "domain": project.get("domain", "Default")}
        self.users = {u["name"]: dict(u, id=u.get("id") or stable_id("user", u["name"]),
                                      domain=u.get("domain", "Default"))
                      for u in config["users"]}
        self.app_creds = [dict(a, id=a.get("id") or stable_id("appcred", a["name"]))
                          for a in config.get("application_credentials", [])]
        self.quotas = dict(DEFAULT_QUOTAS, **config.get("quotas", {}))
        self.zones = config.get("availability_zones") or DEFAULT_ZONES
        self.keypairs = {k["name"]: k for k in config.get("keypairs", [])}
        self.tokens = {}
        self.servers = {}
        self.volumes = {}
        self.snapshots = {}
        self.flavors = {stable_id("flavor", n): {"id": stable_id("flavor", n), "name": n,
                                                 "vcpus": c, "ram": r, "disk": d}
                        for n, c, r, d in FLAVORS}
        self.images = {stable_id("image", n): image_record(n) for n in IMAGES}
        self.network_id = stable_id("network", network_name)
        self.security_groups = {stable_id("sg", n): {"id": stable_id("sg", n), "name": n,
                                                     "description": d}
                                for n, d in SECURITY_GROUPS.items()}

    def endpoint(self, service):
        paths = {"compute": "/compute/v2.1", "volumev3": f"/volume/v3/{self.project['id']}",
                 "block-storage": f"/volume/v3/{self.project['id']}", "image": "/image",
                 "network": "/network", "identity": "/identity/v3"}
        return self.base + paths[service]


def image_record(name):
    created = datetime.datetime(2024, 5, 1, 3, 0, 0)
    return {"id": stable_id("image", name), "name": name, "created": created}


# ---------------------------------------------------------------------------------------------
# Docker: servers as containers of the SSH test-host image
# ---------------------------------------------------------------------------------------------

class Docker:
    def __init__(self, network, image):
        self.network, self.image = network, image
        self.subnet = None
        self.used_ips = set()

    @staticmethod
    def run(*args, check=True, timeout=120):
        done = subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {args[0]}: {done.stderr.strip()}")
        return done.stdout.strip()

    def ensure_network(self):
        """Creates the network with an explicit subnet: only then can each container keep a
        fixed address across stop/start, as a Nova fixed IP does."""
        if self.run("network", "ls", "-q", "--filter", f"name=^{self.network}$"):
            self.run("network", "rm", self.network)
        self.run("network", "create", "--label", f"{LABEL}={self.network}", self.network)
        config = json.loads(self.run("network", "inspect", "--format",
                                     "{{json .IPAM.Config}}", self.network))
        subnet, gateway = config[0]["Subnet"], config[0].get("Gateway")
        self.run("network", "rm", self.network)
        args = ["network", "create", "--label", f"{LABEL}={self.network}", "--subnet", subnet]
        if gateway:
            args += ["--gateway", gateway]
        self.run(*args, self.network)
        self.subnet = subnet
        self.used_ips = {gateway} if gateway else set()

    def next_ip(self):
        net = ipaddress.ip_network(self.subnet)
        for host in net.hosts():
            text = str(host)
            if text not in self.used_ips and not text.endswith(".1"):
                self.used_ips.add(text)
                return text
        raise RuntimeError("the stand-in's network has no free address")

    def start_container(self, name, hostname, ip, public_key):
        args = ["run", "-d", "--name", name, "--hostname", hostname,
                "--label", f"{LABEL}={self.network}"]
        args += ["--network", self.network, "--ip", ip] if ip else ["--network", "none"]
        args += ["-e", f"AUTHORIZED_KEY={public_key}", "-e", "BOOT=systemd",
                 "--tmpfs", "/run", "--tmpfs", "/run/lock",
                 "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns=host",
                 # systemd halts cleanly on this signal, so docker stop is quick.
                 "--stop-signal", "SIGRTMIN+3", self.image]
        return self.run(*args)

    def is_running(self, cid):
        return self.run("inspect", "--format", "{{.State.Running}}", cid, check=False) == "true"

    def host_keys(self, cid, timeout=60):
        """The container's host keys once its start-up has made them all (cloud-init, too,
        prints them only after generating them): empty when they do not appear in time."""
        script = ("if grep -qx ssh-keygen /proc/[0-9]*/comm 2>/dev/null; then echo busy; "
                  "else cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null; fi")
        deadline = time.time() + timeout
        while True:
            out = self.run("exec", cid, "sh", "-c", script, check=False)
            keys = [line for line in out.splitlines() if line.strip() and line != "busy"]
            if (keys and "busy" not in out) or time.time() > deadline:
                return keys
            time.sleep(0.3)

    def exec_sh(self, cid, script):
        return self.run("exec", cid, "sh", "-c", script)

    def cleanup(self):
        ids = self.run("ps", "-aq", "--filter", f"label={LABEL}={self.network}", check=False)
        if ids:
            self.run("rm", "-f", *ids.split(), check=False)
        self.run("network", "rm", self.network, check=False)


# ---------------------------------------------------------------------------------------------
# Requests and microversions
# ---------------------------------------------------------------------------------------------

class Request:
    def __init__(self, method, path, query, headers, raw_body):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.raw_body = raw_body
        self.version = None
        self.token = None

    def json(self):
        if not self.raw_body:
            raise fault(400, "Malformed request body")
        try:
            return json.loads(self.raw_body)
        except ValueError:
            raise fault(400, "Malformed request body")

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[-1] if values else default

    def at_least(self, major, minor):
        return self.version >= (major, minor)


def parse_version(text, service, minimum, maximum):
    if text is None:
        return minimum
    text = text.strip()
    if text == "latest":
        return maximum
    m = re.fullmatch(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)", text)
    if not m:
        raise fault(400, f"API Version String {text} is of invalid format. Must be of format "
                         "MajorNum.MinorNum.")
    version = (int(m.group(1)), int(m.group(2)))
    if not minimum <= version <= maximum:
        raise fault(406, f"Version {text} is not supported by the API. Minimum is "
                         f"{minimum[0]}.{minimum[1]} and maximum is {maximum[0]}.{maximum[1]}.")
    return version


def requested_version(req, service):
    """The version asked for in OpenStack-API-Version (or Nova's legacy header)."""
    for value in req.headers.get_all("OpenStack-API-Version") or []:
        for item in value.split(","):
            parts = item.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == service:
                return parts[1]
    if service == "compute":
        return req.headers.get("X-OpenStack-Nova-API-Version")
    return None


# ---------------------------------------------------------------------------------------------
# Keystone v3
# ---------------------------------------------------------------------------------------------

def keystone_version(cloud):
    return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": cloud.base + "/identity/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}]}


def identity_versions(cloud, req):
    return 300, {"versions": {"values": [keystone_version(cloud)]}}


def identity_v3(cloud, req):
    return 200, {"version": keystone_version(cloud)}


def find_user(cloud, spec):
    """A user named by id, or by name and domain (id or name)."""
    if not isinstance(spec, dict):
        return None
    for user in cloud.users.values():
        if spec.get("id") == user["id"]:
            return user
        domain = spec.get("domain") or {}
        if spec.get("name") == user["name"] and (
                domain.get("name") == user["domain"] or domain.get("id") == user["domain"].lower()
                or domain.get("id") == user["domain"]):
            return user
    return None


def auth_password(cloud, identity):
    spec = (identity.get("password") or {}).get("user") or {}
    user = find_user(cloud, spec)
    if not user or spec.get("password") != user["password"]:
        raise unauthorized()
    return user, None


def auth_app_cred(cloud, identity):
    spec = identity.get("application_credential") or {}
    for cred in cloud.app_creds:
        by_id = spec.get("id") == cred["id"]
        by_name = (spec.get("name") == cred["name"]
                   and find_user(cloud, spec.get("user")) is cloud.users.get(cred["user"]))
        if (by_id or by_name) and secrets.compare_digest(str(spec.get("secret", "")),
                                                          cred["secret"]):
            return cloud.users[cred["user"]], cred
    raise unauthorized()


def check_scope(cloud, scope, cred):
    if cred is not None:
        if scope:  # application credentials carry their own scope
            raise unauthorized()
        return
    project = (scope or {}).get("project")
    if not project:
        raise keystone_error(400, "Bad Request", "The request you have made requires a "
                             "project scope in this stand-in.")
    domain = project.get("domain") or {}
    if project.get("id") == cloud.project["id"]:
        return
    if project.get("name") == cloud.project["name"] and (
            domain.get("name") == cloud.project["domain"]
            or domain.get("id") in (cloud.project["domain"], cloud.project["domain"].lower())):
        return
    raise unauthorized()


def catalog(cloud):
    entries = []
    for service_type, name in (("compute", "nova"), ("volumev3", "cinderv3"),
                               ("block-storage", "cinder"), ("image", "glance"),
                               ("network", "neutron"), ("identity", "keystone")):
        url = cloud.endpoint(service_type)
        entries.append({"id": stable_id("service", service_type), "type": service_type,
                        "name": name,
                        "endpoints": [{"id": stable_id("endpoint", service_type),
                                       "interface": "public", "region_id": REGION,
                                       "region": REGION, "url": url}]})
    return entries


def issue_token(cloud, req):
    try:
        auth = req.json()["auth"]
        identity = auth["identity"]
        methods = identity["methods"]
    except (KeyError, TypeError, ApiError):
        raise keystone_error(400, "Bad Request", "Invalid input for field 'identity': "
                             "'methods' is a required property")
    if methods == ["password"]:
        user, cred = auth_password(cloud, identity)
    elif methods == ["application_credential"]:
        user, cred = auth_app_cred(cloud, identity)
    else:
        raise unauthorized()
    check_scope(cloud, auth.get("scope"), cred)
    issued = now()
    expires = issued + datetime.timedelta(hours=12)
    token_id = "gAAAAA" + secrets.token_urlsafe(120)
    domain = {"id": cloud.project["domain"].lower(), "name": cloud.project["domain"]}
    body = {"token": {
        "methods": methods, "audit_ids": [secrets.token_urlsafe(16)],
        "expires_at": iso_keystone(expires), "issued_at": iso_keystone(issued),
        "user": {"id": user["id"], "name": user["name"], "password_expires_at": None,
                 "domain": {"id": user["domain"].lower(), "name": user["domain"]}},
        "project": {"id": cloud.project["id"], "name": cloud.project["name"], "domain": domain},
        "is_domain": False,
        "roles": [{"id": stable_id("role", "member"), "name": "member"},
                  {"id": stable_id("role", "reader"), "name": "reader"}],
        "catalog": catalog(cloud)}}
    if cred is not None:
        body["token"]["application_credential"] = {"id": cred["id"], "name": cred["name"],
                                                   "restricted": True}
    with cloud.lock:
        cloud.tokens[token_id] = {"user": user, "expires": expires, "body": body}
    return 201, body, {"X-Subject-Token": token_id}


def check_token(cloud, req):
    with cloud.lock:
        token = cloud.tokens.get(req.headers.get("X-Auth-Token", ""))
    if token is None or token["expires"] < now():
        raise unauthorized()
    req.token = token


def validate_token(cloud, req):
    check_token(cloud, req)
    with cloud.lock:
        token = cloud.tokens.get(req.headers.get("X-Subject-Token", ""))
    if token is None:
        raise keystone_error(404, "Not Found", "Could not find token.")
    return 200, token["body"], {"X-Subject-Token": req.headers["X-Subject-Token"]}


def revoke_token(cloud, req):
    check_token(cloud, req)
    with cloud.lock:
        if cloud.tokens.pop(req.headers.get("X-Subject-Token", ""), None) is None:
            raise keystone_error(404, "Not Found", "Could not find token.")
    return 204, None


# ---------------------------------------------------------------------------------------------
# Nova (compute v2.1)
# ---------------------------------------------------------------------------------------------

def nova_version_doc(cloud):
    return {"id": "v2.1", "status": "CURRENT", "version": "%d.%d" % NOVA_MAX,
            "min_version": "%d.%d" % NOVA_MIN, "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": cloud.base + "/compute/v2.1/"},
                      {"rel": "describedby", "type": "text/html",
                       "href": "http://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def nova_versions(cloud, req):
    return 200, {"versions": [nova_version_doc(cloud)]}


def nova_version(cloud, req):
    return 200, {"version": nova_version_doc(cloud)}


def nova_link(cloud, kind, ident):
    return [{"rel": "self", "href": f"{cloud.base}/compute/v2.1/{kind}/{ident}"},
            {"rel": "bookmark", "href": f"{cloud.base}/compute/{kind}/{ident}"}]


def flavor_view(cloud, flavor, req):
    view = {"id": flavor["id"], "name": flavor["name"], "ram": flavor["ram"],
            "disk": flavor["disk"], "vcpus": flavor["vcpus"],
            "swap": 0 if req.at_least(2, 75) else "", "OS-FLV-EXT-DATA:ephemeral": 0,
            "OS-FLV-DISABLED:disabled": False, "os-flavor-access:is_public": True,
            "rxtx_factor": 1.0, "links": nova_link(cloud, "flavors", flavor["id"])}
    if req.at_least(2, 55):
        view["description"] = None
    if req.at_least(2, 61):
        view["extra_specs"] = {}
    return view


def list_flavors(cloud, req, detail=False):
    views = []
    for flavor in cloud.flavors.values():
        if detail:
            views.append(flavor_view(cloud, flavor, req))
        else:
            views.append({"id": flavor["id"], "name": flavor["name"],
                          "links": nova_link(cloud, "flavors", flavor["id"])}
                         | ({"description": None} if req.at_least(2, 55) else {}))
    return 200, {"flavors": views}


def show_flavor(cloud, req, flavor_id):
    flavor = cloud.flavors.get(flavor_id)
    if flavor is None:
        raise fault(404, f"Flavor {flavor_id} could not be found.")
    return 200, {"flavor": flavor_view(cloud, flavor, req)}


def flavor_extra_specs(cloud, req, flavor_id):
    show_flavor(cloud, req, flavor_id)
    return 200, {"extra_specs": {}}


def keypair_view(pair, req):
    view = {"name": pair["name"], "public_key": pair["public_key"],
            "fingerprint": ssh_fingerprint_md5(pair["public_key"])}
    if req.at_least(2, 2):
        view["type"] = "ssh"
    return view


def list_keypairs(cloud, req):
    with cloud.lock:
        pairs = [{"keypair": keypair_view(p, req)} for p in cloud.keypairs.values()]
    return 200, {"keypairs": pairs}


def show_keypair(cloud, req, name):
    with cloud.lock:
        pair = cloud.keypairs.get(name)
    if pair is None:
        raise fault(404, f"Keypair {name} not found for user {req.token['user']['id']}")
    view = keypair_view(pair, req) | {"user_id": req.token["user"]["id"], "deleted": False,
                                      "created_at": iso_micro(now()), "updated_at": None,
                                      "deleted_at": None, "id": 1}
    return 200, {"keypair": view}


def availability_zones(cloud, req):
    return 200, {"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": True},
                                           "hosts": None} for z in cloud.zones]}


def availability_zones_detail(cloud, req):
    raise fault(403, "Policy doesn't allow os_compute_api:os-availability-zone:detail to be "
                     "performed.")


def limits(cloud, req):
    with cloud.lock:
        used = nova_usage(cloud)
    q = cloud.quotas
    absolute = {"maxServerMeta": 128, "maxImageMeta": 128, "maxTotalKeypairs": 100,
                "maxServerGroups": 10, "maxServerGroupMembers": 10, "totalServerGroupsUsed": 0,
                "maxTotalCores": q["cores"], "maxTotalInstances": q["instances"],
                "maxTotalRAMSize": q["ram"], "totalCoresUsed": used["cores"],
                "totalInstancesUsed": used["instances"], "totalRAMUsed": used["ram"]}
    if not req.at_least(2, 36):
        absolute |= {"maxSecurityGroups": 10, "maxSecurityGroupRules": 20,
                     "maxTotalFloatingIps": 10, "totalFloatingIpsUsed": 0,
                     "totalSecurityGroupsUsed": 0}
    if not req.at_least(2, 57):
        absolute |= {"maxPersonality": 5, "maxPersonalitySize": 10240}
    return 200, {"limits": {"rate": [], "absolute": absolute}}


def nova_usage(cloud):
    used = {"instances": 0, "cores": 0, "ram": 0}
    for server in cloud.servers.values():
        if server["vm_state"] != "deleted":
            used["instances"] += 1
            used["cores"] += server["flavor"]["vcpus"]
            used["ram"] += server["flavor"]["ram"]
    return used


SERVER_STATUS = {("building", None): "BUILD", ("active", None): "ACTIVE",
                 ("active", "rebooting"): "REBOOT", ("active", "rebooting_hard"): "HARD_REBOOT",
                 ("stopped", None): "SHUTOFF", ("error", None): "ERROR",
                 ("deleted", None): "DELETED"}
POWER = {"running": 1, "shutdown": 4, "nostate": 0}


def server_status(server):
    key = (server["vm_state"], server["task_state"])
    if key in SERVER_STATUS:
        return SERVER_STATUS[key]
    return SERVER_STATUS.get((server["vm_state"], None), "UNKNOWN")


def server_view(cloud, server, req):
    status = server_status(server)
    flavor = server["flavor"]
    view = {
        "id": server["id"], "name": server["name"], "status": status,
        "tenant_id": cloud.project["id"], "user_id": server["user_id"],
        "metadata": dict(server["metadata"]),
        "hostId": hashlib.sha224((cloud.project["id"] + "host1").encode()).hexdigest()
        if server["launched"] else "",
        "image": {"id": server["image_id"],
                  "links": [{"rel": "bookmark",
                             "href": f"{cloud.base}/compute/images/{server['image_id']}"}]},
        "created": iso_z(server["created"]), "updated": iso_z(server["updated"]),
        "addresses": addresses(cloud, server), "accessIPv4": "", "accessIPv6": "",
        "links": nova_link(cloud, "servers", server["id"]),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": server["zone"] if server["launched"] else "",
        "config_drive": "", "key_name": server["key_name"],
        "OS-SRV-USG:launched_at": iso_micro(server["launched"]),
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": server["task_state"],
        "OS-EXT-STS:vm_state": server["vm_state"],
        "OS-EXT-STS:power_state": POWER[server["power_state"]],
        "os-extended-volumes:volumes_attached": [
            {"id": a["volume_id"]} | ({"delete_on_termination": False}
                                      if req.at_least(2, 3) else {})
            for a in server["attachments"]],
    }
    if status in ("BUILD", "ACTIVE"):
        view["progress"] = 0
    if server["ip"]:
        view["security_groups"] = [{"name": n} for n in server["security_groups"]]
    if req.at_least(2, 47):
        view["flavor"] = {"vcpus": flavor["vcpus"], "ram": flavor["ram"],
                          "disk": flavor["disk"], "ephemeral": 0, "swap": 0,
                          "original_name": flavor["name"], "extra_specs": {}}
    else:
        view["flavor"] = {"id": flavor["id"],
                          "links": [{"rel": "bookmark",
                                     "href": f"{cloud.base}/compute/flavors/{flavor['id']}"}]}
    optional = [((2, 9), "locked", False), ((2, 19), "description", server["description"]),
                ((2, 26), "tags", list(server["tags"])),
                ((2, 63), "trusted_image_certificates", None), ((2, 71), "server_groups", []),
                ((2, 73), "locked_reason", None),
                ((2, 96), "pinned_availability_zone", server["requested_zone"])]
    for since, key, value in optional:
        if req.version >= since:
            view[key] = value
    if server["fault"]:
        view["fault"] = server["fault"]
    return view


def addresses(cloud, server):
    if not server["ip"] or not server["launched"]:
        return {}
    mac = "fa:16:3e:" + ":".join(server["id"][i:i + 2] for i in (0, 2, 4))
    return {cloud.network_name: [{"addr": server["ip"], "version": 4,
                                  "OS-EXT-IPS:type": "fixed",
                                  "OS-EXT-IPS-MAC:mac_addr": mac}]}


def server_matches(server, req, status):
    """The filters a project member may use; Nova silently drops the admin-only ones
    (metadata, host, ...)."""
    name = req.arg("name")
    if name is not None:
        try:
            if not re.search(name, server["name"]):
                return False
        except re.error:
            return False
    if req.arg("status") and req.arg("status").upper() != status:
        return False
    for key, field in (("image", "image_id"),):
        if req.arg(key) and req.arg(key) != server[field]:
            return False
    if req.arg("flavor") and req.arg("flavor") != server["flavor"]["id"]:
        return False
    if req.at_least(2, 26):
        tags = set(server["tags"])
        if req.arg("tags") and not set(req.arg("tags").split(",")) <= tags:
            return False
        if req.arg("tags-any") and not set(req.arg("tags-any").split(",")) & tags:
            return False
        if req.arg("not-tags") and set(req.arg("not-tags").split(",")) <= tags:
            return False
        if req.arg("not-tags-any") and set(req.arg("not-tags-any").split(",")) & tags:
            return False
    if req.at_least(2, 83):
        for key in ("availability_zone", "key_name"):
            field = {"availability_zone": "zone"}.get(key, key)
            if req.arg(key) is not None and req.arg(key) != server[field]:
                return False
    return True


def list_servers(cloud, req, detail=False):
    with cloud.lock:
        servers = sorted((s for s in cloud.servers.values() if s["vm_state"] != "deleted"),
                         key=lambda s: s["created"], reverse=True)
        views = []
        for server in servers:
            if not server_matches(server, req, server_status(server)):
                continue
            if detail:
                views.append(server_view(cloud, server, req))
            else:
                views.append({"id": server["id"], "name": server["name"],
                              "links": nova_link(cloud, "servers", server["id"])})
    limit = req.arg("limit")
    marker = req.arg("marker")
    if marker:
        ids = [v["id"] for v in views]
        if marker not in ids:
            raise fault(400, f"marker [{marker}] not found")
        views = views[ids.index(marker) + 1:]
    if limit and limit.isdigit():
        views = views[:int(limit)]
    return 200, {"servers": views}


def get_server(cloud, server_id):
    server = cloud.servers.get(server_id)
    if server is None or server["vm_state"] == "deleted":
        raise fault(404, f"Instance {server_id} could not be found.")
    return server


def show_server(cloud, req, server_id):
    with cloud.lock:
        return 200, {"server": server_view(cloud, get_server(cloud, server_id), req)}


def create_schema(req):
    server = {
        "name": NAME, "imageRef": {"type": "string"}, "flavorRef":
            {"type": ["string", "integer"], "minLength": 1},
        "adminPass": {"type": "string"}, "metadata": METADATA,
        "networks": {"type": "array",
                     "items": {"type": "object",
                               "properties": {"fixed_ip": {"type": "string"},
                                              "port": {"type": ["string", "null"]},
                                              "uuid": {"type": "string"}},
                               "additionalProperties": False}},
        "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
        "accessIPv4": {"type": "string"}, "accessIPv6": {"type": "string"},
        "availability_zone": NAME, "block_device_mapping": {"type": "array"},
        "block_device_mapping_v2": bdm_schema(req), "config_drive": BOOLEAN,
        "key_name": NAME, "min_count": POSITIVE_INT, "max_count": POSITIVE_INT,
        "return_reservation_id": BOOLEAN,
        "security_groups": {"type": "array",
                            "items": {"type": "object", "properties": {"name": NAME},
                                      "additionalProperties": False}},
        "user_data": {"type": "string", "maxLength": 65535},
    }
    if not req.at_least(2, 57):
        server["personality"] = {"type": "array"}
    if req.at_least(2, 19):
        server["description"] = {"type": ["string", "null"], "maxLength": 255}
    if req.at_least(2, 37):
        item = server["networks"]["items"]
        item["properties"]["uuid"] = {"type": "string", "format": "uuid"}
        if req.at_least(2, 42):
            item["properties"]["tag"] = TAG
        server["networks"] = {"oneOf": [{"type": "array", "items": item},
                                        {"type": "string", "enum": ["none", "auto"]}]}
    if req.at_least(2, 52):
        server["tags"] = {"type": "array", "items": TAG, "maxItems": 50}
    if req.at_least(2, 63):
        server["trusted_image_certificates"] = {"type": ["array", "null"]}
    if req.at_least(2, 74):
        server["host"] = NAME
        server["hypervisor_hostname"] = NAME
    if req.at_least(2, 90):
        server["hostname"] = NAME
    required = ["name", "flavorRef"] + (["networks"] if req.at_least(2, 37) else [])
    hints = {"type": "object"}
    return {"type": "object",
            "properties": {"server": {"type": "object", "properties": server,
                                      "required": required, "additionalProperties": False},
                           "os:scheduler_hints": hints, "OS-SCH-HNT:scheduler_hints": hints},
            "required": ["server"], "additionalProperties": False}


def bdm_schema(req):
    props = {"virtual_name": {"type": "string", "maxLength": 255},
             "volume_id": {"type": "string"}, "snapshot_id": {"type": "string"},
             "volume_size": {"type": ["integer", "string"], "pattern": "^[0-9]+$",
                             "minimum": 1},
             "device_name": {"type": "string", "minLength": 1, "maxLength": 255,
                             "pattern": "^[a-zA-Z0-9._/-]*$"},
             "delete_on_termination": BOOLEAN, "no_device": {},
             "connection_info": {"type": "string"},
             "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
             "uuid": {"type": "string", "minLength": 1, "maxLength": 255,
                      "pattern": "^[a-zA-Z0-9._-]*$"},
             "image_id": {"type": "string"},
             "destination_type": {"type": "string", "enum": ["local", "volume"]},
             "guest_format": {"type": "string", "maxLength": 255},
             "device_type": {"type": "string", "maxLength": 255},
             "disk_bus": {"type": "string", "maxLength": 255},
             "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"}}
    if req.at_least(2, 42):
        props["tag"] = TAG
    if req.at_least(2, 67):
        props["volume_type"] = {"type": ["string", "null"], "maxLength": 255}
    return {"type": "array", "items": {"type": "object", "properties": props,
                                       "additionalProperties": False}}


def boot_image(spec):
    """The image to boot: imageRef, or the one image->local mapping the openstack CLI sends
    along with it. Volumes as boot or extra disks at create time are not modelled."""
    image_id = last_segment(spec.get("imageRef", ""))
    if spec.get("block_device_mapping"):
        raise fault(400, "block_device_mapping is not supported by this stand-in.")
    for bdm in spec.get("block_device_mapping_v2", []):
        if bdm.get("source_type") != "image" or bdm.get("destination_type", "local") != "local":
            raise fault(400, "Only an image booted to a local disk is supported by this "
                             "stand-in (no boot from volume).")
        if str(bdm.get("boot_index")) != "0":
            raise fault(400, "Boot sequence for the instance and image/block device mapping "
                             "combination is not valid.")
        if image_id and bdm.get("uuid") != image_id:
            raise fault(400, "Block Device Mapping is Invalid: Boot sequence for the instance "
                             "and image/block device mapping combination is not valid.")
        image_id = bdm.get("uuid")
    if not image_id:
        raise fault(400, "Block Device Mapping is Invalid: Boot sequence for the instance and "
                         "image/block device mapping combination is not valid.")
    return image_id


def last_segment(ref):
    return str(ref).rstrip("/").split("/")[-1]


def resolve_networks(cloud, spec):
    """The one shared network, none, or 400 for anything else (ports are not modelled)."""
    if spec in (None, "auto"):
        return True
    if spec == "none":
        return False
    if not spec:
        return True
    for item in spec:
        if item.get("port"):
            raise fault(400, f"Port {item['port']} could not be found.")
        if item.get("uuid") != cloud.network_id:
            raise fault(400, f"Network {item.get('uuid')} could not be found.")
    return True


def check_nova_quota(cloud, flavor, count):
    used = nova_usage(cloud)
    want = {"instances": count, "cores": flavor["vcpus"] * count, "ram": flavor["ram"] * count}
    overs = sorted(k for k in want if used[k] + want[k] > cloud.quotas[k])
    if overs:
        msg = "Quota exceeded for %s: Requested %s, but already used %s of %s %s" % (
            ", ".join(overs), ", ".join(str(want[k]) for k in overs),
            ", ".join(str(used[k]) for k in overs),
            ", ".join(str(cloud.quotas[k]) for k in overs), ", ".join(overs))
        raise fault(403, msg)


def create_server(cloud, req):
    body = req.json()
    validate(create_schema(req), body)
    spec = body["server"]
    image_id = boot_image(spec)
    if not image_id:
        raise fault(400, "Missing imageRef attribute")
    flavor = cloud.flavors.get(last_segment(spec["flavorRef"]))
    if flavor is None:
        raise fault(400, f"Flavor {spec['flavorRef']} could not be found.")
    if image_id not in cloud.images:
        raise fault(400, "Can not find requested image")
    key_name = spec.get("key_name")
    if key_name is not None and key_name not in cloud.keypairs:
        raise fault(400, "Invalid key_name provided.")
    zone = spec.get("availability_zone")
    if zone is not None and zone not in cloud.zones:
        raise fault(400, "The requested availability zone is not available")
    groups = [g.get("name", "default") for g in spec.get("security_groups", [])] or ["default"]
    for group in groups:
        if not any(group in (sg["name"], sg["id"]) for sg in cloud.security_groups.values()):
            raise fault(400, f"Security group {group} not found.")
    wired = resolve_networks(cloud, spec.get("networks"))
    min_count = int(spec.get("min_count", 1))
    max_count = int(spec.get("max_count", min_count))
    if min_count > max_count:
        raise fault(400, "min_count must be <= max_count")
    with cloud.lock:
        headroom = min(cloud.quotas["instances"] - nova_usage(cloud)["instances"], max_count)
        check_nova_quota(cloud, flavor, max(min_count, min(headroom, max_count)))
        count = max(min_count, headroom)
        created = [new_server(cloud, req, spec, flavor, image_id, zone, groups, wired,
                              i + 1 if count > 1 else None) for i in range(count)]
    for server in created:
        threading.Thread(target=boot, args=(cloud, server), daemon=True).start()
    first = created[0]
    if parse_bool(spec.get("return_reservation_id", False)):
        return 202, {"reservation_id": first["reservation_id"]}
    view = {"id": first["id"], "links": nova_link(cloud, "servers", first["id"]),
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": g} for g in groups],
            "adminPass": secrets.token_urlsafe(9)}
    return 202, {"server": view}, {"Location": view["links"][0]["href"]}


def new_server(cloud, req, spec, flavor, image_id, zone, groups, wired, index):
    server_id = new_id()
    name = spec["name"] if index is None else f"{spec['name']}-{index}"
    t = now()
    server = {
        "id": server_id, "name": name, "user_id": req.token["user"]["id"],
        "metadata": dict(spec.get("metadata", {})), "image_id": image_id, "flavor": flavor,
        "created": t, "updated": t, "launched": None, "key_name": spec.get("key_name"),
        "zone": zone or next(z for z, o in cloud.zones.items() if not o.get("full")),
        "requested_zone": zone, "security_groups": groups,
        "tags": list(spec.get("tags", [])), "description": spec.get("description"),
        "vm_state": "building", "task_state": "scheduling", "power_state": "nostate",
        "fault": None, "ip": cloud.docker.next_ip() if wired else None, "container": None,
        "attachments": [], "console": [], "reservation_id": "r-" + secrets.token_hex(4),
    }
    cloud.servers[server_id] = server
    return server


def hostname_of(name):
    host = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return host[:63] or "server"


def boot(cloud, server):
    """BUILD -> ACTIVE (container running) or ERROR (zone marked full, or docker failed)."""
    time.sleep(0.3)
    with cloud.lock:
        if server["vm_state"] == "deleted":
            return
        full = cloud.zones.get(server["zone"], {}).get("full")
        if server["requested_zone"] is None:
            full = False
        server["task_state"] = "spawning" if not full else None
        public_key = cloud.keypairs.get(server["key_name"], {}).get("public_key", "")
    if full:
        fail_server(cloud, server, "No valid host was found. There are not enough hosts "
                                   "available.")
        return
    try:
        name = f"{cloud.network_name}-{server['id'][:8]}"
        cid = cloud.docker.start_container(name, hostname_of(server["name"]), server["ip"],
                                           public_key)
        with cloud.lock:
            server["container"] = cid
        wait_running(cloud, cid)
    except Exception as e:  # the server goes to ERROR as on a failed spawn
        fail_server(cloud, server, f"Build of instance {server['id']} aborted: {e}")
        return
    with cloud.lock:
        if server["vm_state"] == "deleted":
            return
        t = now()
        server.update(vm_state="active", task_state=None, power_state="running",
                      launched=t, updated=t)
        server["console"] += boot_lines(server, t)
    time.sleep(HOST_KEYS_DELAY)
    append_host_keys(cloud, server)


def wait_running(cloud, cid, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cloud.docker.is_running(cid):
            return
        time.sleep(0.2)
    raise RuntimeError("container did not start")


def fail_server(cloud, server, message):
    with cloud.lock:
        t = now()
        server.update(vm_state="error", task_state=None, power_state="nostate", updated=t,
                      fault={"code": 500, "created": iso_z(t), "message": message})
        cloud.docker.used_ips.discard(server["ip"])
        server["ip"] = None


def boot_lines(server, t):
    stamp = t.strftime("%a, %d %b %Y %H:%M:%S +0000")
    host = hostname_of(server["name"])
    ip = server["ip"] or "-"
    return [
        "[    0.000000] Linux version 6.1.0-stand-in (openstack-standin) #1 SMP",
        "[    0.000000] Command line: BOOT_IMAGE=/vmlinuz root=LABEL=cloudimg-rootfs ro "
        "console=tty1 console=ttyS0",
        f"[    2.104511] cloud-init[512]: Cloud-init v. 23.4 running 'init-local' at {stamp}."
        " Up 2.10 seconds.",
        f"[    3.217902] cloud-init[601]: Cloud-init v. 23.4 running 'init' at {stamp}."
        " Up 3.21 seconds.",
        "[    3.221003] cloud-init[601]: ci-info: ++++++++++++++++Net device info+++++++++++"
        "+++++",
        f"[    3.221890] cloud-init[601]: ci-info: | eth0 | True | {ip} | 255.255.0.0 | "
        "global |",
        f"{host} login: ",
    ]


def ssh_fingerprint_sha256(pub_line):
    blob = base64.b64decode(pub_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def ssh_fingerprint_md5(pub_line):
    try:
        blob = base64.b64decode(pub_line.split()[1])
    except (IndexError, ValueError):
        return ""
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def append_host_keys(cloud, server):
    """cloud-init's final stage prints the host keys to the console, which is how a client can
    verify the first SSH connection."""
    with cloud.lock:
        cid = server["container"]
        if server["vm_state"] != "active" or not cid:
            return
    keys = cloud.docker.host_keys(cid)
    if not keys:
        return
    sizes = {"ssh-rsa": 3072, "ssh-ed25519": 256, "ecdsa-sha2-nistp256": 256}
    kinds = {"ssh-rsa": "RSA", "ssh-ed25519": "ED25519", "ecdsa-sha2-nistp256": "ECDSA"}
    lines = ["ci-info: no authorized SSH keys fingerprints found for user ubuntu."
             if not server["key_name"] else "ci-info: authorized keys for user ubuntu listed.",
             "<14>Jan  1 00:00:00 cloud-init: #" + "#" * 56,
             "<14>Jan  1 00:00:00 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----"]
    for k in keys:
        kind = k.split()[0]
        lines.append(f"<14>Jan  1 00:00:00 cloud-init: {sizes.get(kind, 256)} "
                     f"{ssh_fingerprint_sha256(k)} root@{hostname_of(server['name'])} "
                     f"({kinds.get(kind, kind)})")
    lines += ["<14>Jan  1 00:00:00 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----",
              "<14>Jan  1 00:00:00 cloud-init: #" + "#" * 56,
              "-----BEGIN SSH HOST KEY KEYS-----", *keys, "-----END SSH HOST KEY KEYS-----",
              f"[   11.402113] cloud-init[903]: Cloud-init v. 23.4 finished at "
              f"{now().strftime('%a, %d %b %Y %H:%M:%S +0000')}. Datasource "
              "DataSourceOpenStackLocal [net,ver=2].  Up 11.40 seconds"]
    with cloud.lock:
        if server["vm_state"] == "active":
            server["console"] += lines


def delete_server(cloud, req, server_id):
    with cloud.lock:
        server = get_server(cloud, server_id)
        server["task_state"] = "deleting"
        server["updated"] = now()
    threading.Thread(target=destroy, args=(cloud, server), daemon=True).start()
    return 204, None


def destroy(cloud, server):
    with cloud.lock:
        cid = server["container"]
    if cid:
        cloud.docker.run("rm", "-f", cid, check=False)
    time.sleep(DELETE_DELAY)
    with cloud.lock:
        for att in server["attachments"]:
            release_volume(cloud, att["volume_id"])
        server.update(vm_state="deleted", task_state=None, power_state="nostate",
                      attachments=[], updated=now())
        if server["ip"]:
            cloud.docker.used_ips.discard(server["ip"])
        del cloud.servers[server["id"]]


def state_conflict(action, server):
    return fault(409, f"Cannot '{action}' instance {server['id']} while it is in vm_state "
                      f"{server['vm_state']}")


def require_state(server, action, vm_states):
    if server["vm_state"] not in vm_states:
        raise state_conflict(action, server)
    if server["task_state"] is not None:
        raise fault(409, f"Cannot '{action}' instance {server['id']} while it is in "
                         f"task_state {server['task_state']}")


ACTION_SCHEMAS = {
    "os-stop": {"type": "null"},
    "os-start": {"type": "null"},
    "reboot": {"type": "object",
               "properties": {"type": {"type": "string",
                                       "enum": ["HARD", "Hard", "hard", "SOFT", "Soft",
                                                "soft"]}},
               "required": ["type"], "additionalProperties": False},
    "os-getConsoleOutput": {"type": "object",
                            "properties": {"length": {"type": ["integer", "string", "null"],
                                                      "pattern": "^-?[0-9]+$",
                                                      "minimum": -1}},
                            "additionalProperties": False},
}


def server_action(cloud, req, server_id):
    body = req.json()
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ACTION_SCHEMAS:
        raise fault(400, "There is no such action: %s" % (
            ", ".join(body) if isinstance(body, dict) else body))
    action = next(iter(body))
    validate({"type": "object", "properties": {action: ACTION_SCHEMAS[action]},
              "additionalProperties": False}, body)
    with cloud.lock:
        server = get_server(cloud, server_id)
        if action == "os-stop":
            require_state(server, "stop", ("active", "error"))
            server["task_state"] = "powering-off"
            run_later(power_off, cloud, server)
            return 202, None
        if action == "os-start":
            require_state(server, "start", ("stopped",))
            server["task_state"] = "powering-on"
            run_later(power_on, cloud, server)
            return 202, None
        if action == "reboot":
            hard = body["reboot"]["type"].upper() == "HARD"
            allowed = ("active", "stopped", "error") if hard else ("active",)
            require_state(server, "reboot", allowed)
            server["task_state"] = "rebooting_hard" if hard else "rebooting"
            run_later(reboot, cloud, server)
            return 202, None
        return 200, {"output": console_output(server, body[action].get("length"))}


def console_output(server, length):
    if server["vm_state"] in ("building", "error") or not server["container"]:
        raise fault(409, f"Instance {server['id']} is not ready")
    lines = server["console"]
    if length is not None and int(length) >= 0:
        lines = lines[-int(length):] if int(length) else []
    return "\n".join(lines) + ("\n" if lines else "")


def run_later(fn, *args):
    threading.Thread(target=fn, args=args, daemon=True).start()


def power_off(cloud, server):
    cloud.docker.run("stop", "-t", "10", server["container"], check=False)
    with cloud.lock:
        server.update(vm_state="stopped", task_state=None, power_state="shutdown",
                      updated=now())


def power_on(cloud, server):
    cloud.docker.run("start", server["container"], check=False)
    wait_running(cloud, server["container"])
    restore_disks(cloud, server)
    with cloud.lock:
        server.update(vm_state="active", task_state=None, power_state="running",
                      updated=now())
        server["console"] += boot_lines(server, now())


def reboot(cloud, server):
    cloud.docker.run("restart", "-t", "10", server["container"], check=False)
    wait_running(cloud, server["container"])
    restore_disks(cloud, server)
    with cloud.lock:
        server.update(task_state=None, power_state="running", updated=now())
        server["console"] += boot_lines(server, now())


# --- volume attachments (Nova side) ---

def attachment_view(server, att, req):
    view = {"serverId": server["id"], "volumeId": att["volume_id"], "device": att["device"]}
    if req.at_least(2, 89):
        view |= {"attachment_id": att["attachment_id"], "bdm_uuid": att["bdm_uuid"]}
    else:
        view["id"] = att["volume_id"]
    if req.at_least(2, 70):
        view["tag"] = att["tag"]
    if req.at_least(2, 79):
        view["delete_on_termination"] = att["delete_on_termination"]
    return view


def list_attachments(cloud, req, server_id):
    with cloud.lock:
        server = get_server(cloud, server_id)
        return 200, {"volumeAttachments": [attachment_view(server, a, req)
                                           for a in server["attachments"]]}


def show_attachment(cloud, req, server_id, volume_id):
    with cloud.lock:
        server = get_server(cloud, server_id)
        for att in server["attachments"]:
            if att["volume_id"] == volume_id:
                return 200, {"volumeAttachment": attachment_view(server, att, req)}
    raise fault(404, f"Instance {server_id} is not attached to volume {volume_id}")


def attach_schema(req):
    props = {"volumeId": {"type": "string", "format": "uuid"},
             "device": {"type": ["string", "null"],
                        "pattern": "(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$"}}
    if req.at_least(2, 49):
        props["tag"] = TAG
    if req.at_least(2, 79):
        props["delete_on_termination"] = BOOLEAN
    return {"type": "object",
            "properties": {"volumeAttachment": {"type": "object", "properties": props,
                                                "required": ["volumeId"],
                                                "additionalProperties": False}},
            "required": ["volumeAttachment"], "additionalProperties": False}


def next_device(server):
    taken = {a["device"] for a in server["attachments"]} | {"/dev/vda"}
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"/dev/vd{letter}" not in taken:
            return f"/dev/vd{letter}"
    raise fault(403, "The maximum allowed number of disk devices (26) to attach to a single "
                     "instance has been exceeded.")


def attach_volume(cloud, req, server_id):
    body = req.json()
    validate(attach_schema(req), body)
    spec = body["volumeAttachment"]
    with cloud.lock:
        server = get_server(cloud, server_id)
        require_state(server, "attach_volume", ("active", "stopped"))
        volume = cloud.volumes.get(spec["volumeId"])
        if volume is None or volume["status"] == "deleting":
            raise fault(404, f"Volume {spec['volumeId']} could not be found.")
        if volume["availability_zone"] != server["zone"]:  # Nectar runs cross_az_attach=False
            raise fault(400, f"Invalid volume: Instance {server['id']} and volume "
                             f"{volume['id']} are not in the same availability_zone. Instance "
                             f"is in {server['zone']}. Volume is in "
                             f"{volume['availability_zone']}")
        if volume["status"] != "available":
            raise fault(400, "Invalid volume: Volume status must be available to reserve, "
                             f"but the status is {volume['status']}.")
        att = {"volume_id": volume["id"], "device": next_device(server),
               "attachment_id": new_id(), "bdm_uuid": new_id(), "tag": spec.get("tag"),
               "delete_on_termination": parse_bool(spec.get("delete_on_termination", False)),
               "attached_at": now()}
        server["attachments"].append(att)
        volume["status"] = "attaching"
    run_later(finish_attach, cloud, server, volume, att)
    return 200, {"volumeAttachment": attachment_view(server, att, req)}


def finish_attach(cloud, server, volume, att):
    try:
        expose_disk(cloud, server, volume, att)
    except Exception:
        traceback.print_exc()
    with cloud.lock:
        volume["status"] = "in-use"
        volume["attachment"] = {"server_id": server["id"], **att}
        volume["updated"] = now()


def disk_script(volume, att):
    """A sparse file stands for the disk; /dev/vdX and /dev/disk/by-id/virtio-<serial> point at
    it, as udev names a virtio disk from the first 20 characters of the volume id."""
    image = f"/var/lib/openstack-standin/volumes/{volume['id']}.img"
    dev = att["device"]
    link = f"/dev/disk/by-id/virtio-{volume['id'][:20]}"
    return (f"mkdir -p /var/lib/openstack-standin/volumes /dev/disk/by-id && "
            f"[ -e {image} ] || truncate -s {volume['size']}G {image}; "
            f"ln -sfn {image} {dev} && ln -sfn ../../{dev.rsplit('/', 1)[1]} {link}")


def expose_disk(cloud, server, volume, att):
    with cloud.lock:
        cid = server["container"]
        running = server["vm_state"] == "active"
    if cid and running:
        cloud.docker.exec_sh(cid, disk_script(volume, att))


def restore_disks(cloud, server):
    """/dev is a fresh tmpfs after every container start: put the disk links back."""
    with cloud.lock:
        pairs = [(cloud.volumes[a["volume_id"]], a) for a in server["attachments"]
                 if a["volume_id"] in cloud.volumes]
    for volume, att in pairs:
        try:
            cloud.docker.exec_sh(server["container"], disk_script(volume, att))
        except Exception:
            traceback.print_exc()


def detach_volume(cloud, req, server_id, volume_id):
    with cloud.lock:
        server = get_server(cloud, server_id)
        require_state(server, "detach_volume", ("active", "stopped"))
        att = next((a for a in server["attachments"] if a["volume_id"] == volume_id), None)
        if att is None:
            raise fault(404, f"Instance {server_id} is not attached to volume {volume_id}")
        volume = cloud.volumes[volume_id]
        if volume["status"] != "in-use":
            raise fault(400, "Invalid volume: Unable to detach volume. Volume status must be "
                             "'in-use' and attach_status must be 'attached' to detach.")
        volume["status"] = "detaching"
        cid = server["container"]
    run_later(finish_detach, cloud, server, volume, att, cid)
    return 202, None


def finish_detach(cloud, server, volume, att, cid):
    if cid and cloud.docker.is_running(cid):
        link = f"/dev/disk/by-id/virtio-{volume['id'][:20]}"
        cloud.docker.exec_sh(cid, f"rm -f {link} {att['device']}")
    with cloud.lock:
        server["attachments"] = [a for a in server["attachments"] if a is not att]
        release_volume(cloud, volume["id"])


def release_volume(cloud, volume_id):
    volume = cloud.volumes.get(volume_id)
    if volume is not None:
        volume["status"] = "available"
        volume["attachment"] = None
        volume["updated"] = now()


# ---------------------------------------------------------------------------------------------
# Cinder (block storage v3)
# ---------------------------------------------------------------------------------------------

def cinder_version_doc(cloud):
    return {"id": "v3.0", "status": "CURRENT", "version": "%d.%d" % CINDER_MAX,
            "min_version": "%d.%d" % CINDER_MIN, "updated": "2023-08-31T00:00:00Z",
            "links": [{"rel": "describedby", "type": "text/html",
                       "href": "https://docs.openstack.org/"},
                      {"rel": "self", "href": cloud.base + "/volume/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}


def cinder_versions(cloud, req):
    return 300, {"versions": [cinder_version_doc(cloud)]}


def cinder_v3(cloud, req):
    return 200, {"versions": [cinder_version_doc(cloud)]}


def volume_view(cloud, volume, req):
    att = volume.get("attachment")
    attachments = []
    if att and volume["status"] in ("in-use", "detaching"):
        attachments = [{"id": volume["id"], "attachment_id": att["attachment_id"],
                        "volume_id": volume["id"], "server_id": att["server_id"],
                        "host_name": None, "device": att["device"],
                        "attached_at": iso_micro(att["attached_at"])}]
    view = {
        "id": volume["id"], "name": volume["name"], "description": volume["description"],
        "status": volume["status"], "size": volume["size"],
        "availability_zone": volume["availability_zone"],
        "created_at": iso_micro(volume["created"]), "updated_at": iso_micro(volume["updated"]),
        "attachments": attachments, "bootable": "false", "encrypted": False,
        "volume_type": volume["volume_type"], "metadata": dict(volume["metadata"]),
        "snapshot_id": None, "source_volid": None, "replication_status": None,
        "consistencygroup_id": None, "multiattach": False, "user_id": volume["user_id"],
        "os-vol-tenant-attr:tenant_id": cloud.project["id"],
        "links": [{"rel": "self",
                   "href": f"{cloud.endpoint('volumev3')}/volumes/{volume['id']}"},
                  {"rel": "bookmark",
                   "href": f"{cloud.base}/volume/{cloud.project['id']}/volumes/{volume['id']}"}],
    }
    optional = [((3, 13), "group_id", None), ((3, 48), "shared_targets", False),
                ((3, 63), "volume_type_id", stable_id("volume-type", volume["volume_type"])),
                ((3, 65), "consumes_quota", True)]
    for since, key, value in optional:
        if req.version >= since:
            view[key] = value
    return view


def cinder_usage(cloud):
    volumes = [v for v in cloud.volumes.values() if v["status"] != "deleting"]
    snaps = [s for s in cloud.snapshots.values() if s["status"] != "deleting"]
    return {"volumes": len(volumes), "snapshots": len(snaps),
            "gigabytes": sum(v["size"] for v in volumes) + sum(s["size"] for s in snaps)}


def check_gigabytes(cloud, size):
    used = cinder_usage(cloud)["gigabytes"]
    if used + size > cloud.quotas["gigabytes"]:
        raise fault(413, f"Requested volume or snapshot exceeds allowed gigabytes quota. "
                         f"Requested {size}G, quota is {cloud.quotas['gigabytes']}G and "
                         f"{used}G has been consumed.", retryAfter="0")


VOLUME_SCHEMA = {
    "type": "object",
    "properties": {
        "volume": {
            "type": "object",
            "properties": {
                "name": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "display_name": {"type": ["string", "null"]},
                "display_description": {"type": ["string", "null"]},
                "volume_type": {"type": ["string", "null"], "minLength": 0, "maxLength": 255},
                "metadata": {"type": ["object", "null"],
                             "patternProperties": {"^[a-zA-Z0-9-_:. /]{1,255}$":
                                                   {"type": "string", "maxLength": 255}},
                             "additionalProperties": False},
                "snapshot_id": {"type": ["string", "null"]},
                "source_volid": {"type": ["string", "null"]},
                "consistencygroup_id": {"type": ["string", "null"]},
                "size": {"type": ["integer", "string", "null"], "pattern": "^[0-9]+$",
                         "minimum": 1, "maximum": 2147483647},
                "availability_zone": {"type": ["string", "null"], "minLength": 1,
                                      "maxLength": 255},
                "multiattach": {"oneOf": [{"type": "null"}, BOOLEAN]},
                "image_id": {"type": ["string", "null"], "maxLength": 255},
                "imageRef": {"type": ["string", "null"], "maxLength": 255},
            },
            # Cinder itself accepts (and ignores) unknown keys inside "volume".
            "additionalProperties": True,
        },
        "OS-SCH-HNT:scheduler_hints": {"type": ["object", "null"]},
    },
    "required": ["volume"], "additionalProperties": False,
}


def create_volume(cloud, req):
    body = req.json()
    validate(VOLUME_SCHEMA, body)
    spec = body["volume"]
    for source in ("snapshot_id", "source_volid", "image_id", "imageRef", "consistencygroup_id"):
        if spec.get(source):
            raise fault(400, f"Creating a volume from {source} is not supported by this "
                             "stand-in.")
    if spec.get("size") is None:
        raise fault(400, f"Invalid input received: Volume size '{spec.get('size')}' must be an "
                         "integer and greater than 0")
    size = int(spec["size"])
    zone = spec.get("availability_zone") or next(iter(cloud.zones))
    if zone not in cloud.zones:
        raise fault(400, f"Invalid input received: Availability zone '{zone}' is invalid.")
    vtype = spec.get("volume_type") or "standard"
    if vtype not in ("standard", stable_id("volume-type", "standard")):
        raise fault(404, f"Volume type with name {vtype} could not be found.")
    with cloud.lock:
        used = cinder_usage(cloud)
        if used["volumes"] + 1 > cloud.quotas["volumes"]:
            raise fault(413, f"Maximum number of volumes allowed ({cloud.quotas['volumes']}) "
                             "exceeded for quota 'volumes'.", retryAfter="0")
        check_gigabytes(cloud, size)
        t = now()
        volume = {"id": new_id(), "name": spec.get("name", spec.get("display_name")),
                  "description": spec.get("description", spec.get("display_description")),
                  "status": "creating", "size": size, "availability_zone": zone,
                  "created": t, "updated": t, "volume_type": "standard",
                  "metadata": dict(spec.get("metadata") or {}),
                  "user_id": req.token["user"]["id"], "attachment": None}
        cloud.volumes[volume["id"]] = volume
        view = volume_view(cloud, volume, req)
    run_later(settle, cloud, volume, "creating", "available")
    return 202, {"volume": view}


def settle(cloud, record, expected, status):
    time.sleep(CREATE_DELAY)
    with cloud.lock:
        if record["status"] == expected:
            record["status"] = status
            record["updated"] = now()


def volume_matches(volume, req):
    for key in ("name", "status", "availability_zone"):
        if req.arg(key) is not None and req.arg(key) != volume[key]:
            return False
    return True


def list_volumes(cloud, req, detail=False):
    with cloud.lock:
        volumes = sorted(cloud.volumes.values(), key=lambda v: v["created"], reverse=True)
        if detail:
            views = [volume_view(cloud, v, req) for v in volumes if volume_matches(v, req)]
        else:
            views = [{"id": v["id"], "name": v["name"],
                      "links": volume_view(cloud, v, req)["links"]}
                     for v in volumes if volume_matches(v, req)]
    return 200, {"volumes": views}


def get_volume(cloud, volume_id):
    volume = cloud.volumes.get(volume_id)
    if volume is None:
        raise fault(404, f"Volume {volume_id} could not be found.")
    return volume


def show_volume(cloud, req, volume_id):
    with cloud.lock:
        return 200, {"volume": volume_view(cloud, get_volume(cloud, volume_id), req)}


def delete_volume(cloud, req, volume_id):
    with cloud.lock:
        volume = get_volume(cloud, volume_id)
        deletable = ("available", "error", "error_restoring", "error_extending",
                     "error_managing")
        has_snapshots = any(s["volume_id"] == volume_id for s in cloud.snapshots.values())
        if volume["status"] not in deletable or has_snapshots:
            raise fault(400, "Invalid volume: Volume status must be " + " or ".join(deletable)
                        + " and must not be migrating, attached, belong to a group, have "
                          "snapshots, awaiting a transfer, or be disassociated from snapshots "
                          "after volume transfer.")
        volume["status"] = "deleting"
    run_later(forget_later, cloud, cloud.volumes, volume_id)
    return 202, None


def forget_later(cloud, table, key):
    time.sleep(DELETE_DELAY)
    with cloud.lock:
        table.pop(key, None)


def volume_zones(cloud, req):
    return 200, {"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": True}}
                                          for z in cloud.zones]}


def cinder_limits(cloud, req):
    with cloud.lock:
        used = cinder_usage(cloud)
    q = cloud.quotas
    return 200, {"limits": {"rate": [], "absolute": {
        "totalSnapshotsUsed": used["snapshots"], "maxTotalBackups": 10,
        "maxTotalVolumeGigabytes": q["gigabytes"], "maxTotalSnapshots": q["snapshots"],
        "maxTotalBackupGigabytes": 1000, "totalBackupGigabytesUsed": 0,
        "maxTotalVolumes": q["volumes"], "totalVolumesUsed": used["volumes"],
        "totalBackupsUsed": 0, "totalGigabytesUsed": used["gigabytes"]}}}


def volume_types(cloud, req):
    return 200, {"volume_types": [{"id": stable_id("volume-type", "standard"),
                                   "name": "standard", "description": None,
                                   "is_public": True, "extra_specs": {},
                                   "os-volume-type-access:is_public": True,
                                   "qos_specs_id": None}]}


SNAPSHOT_SCHEMA = {
    "type": "object",
    "properties": {
        "snapshot": {
            "type": "object",
            "properties": {
                "name": {"type": ["string", "null"], "minLength": 0, "maxLength": 255},
                "display_name": {"type": ["string", "null"], "minLength": 0,
                                 "maxLength": 255},
                "description": {"type": ["string", "null"], "minLength": 0,
                                "maxLength": 255},
                "volume_id": {"oneOf": [{"type": "string", "format": "uuid"},
                                        {"type": "null"}]},
                "force": BOOLEAN,
                "metadata": {"type": ["object", "null"]},
            },
            "required": ["volume_id"], "additionalProperties": False,
        },
    },
    "required": ["snapshot"], "additionalProperties": False,
}


def snapshot_view(cloud, snap, req):
    view = {"id": snap["id"], "name": snap["name"], "description": snap["description"],
            "status": snap["status"], "size": snap["size"], "volume_id": snap["volume_id"],
            "created_at": iso_micro(snap["created"]), "updated_at": iso_micro(snap["updated"]),
            "metadata": dict(snap["metadata"]),
            "os-extended-snapshot-attributes:progress": "100%"
            if snap["status"] == "available" else "0%",
            "os-extended-snapshot-attributes:project_id": cloud.project["id"]}
    if req.at_least(3, 14):
        view["group_snapshot_id"] = None
    if req.at_least(3, 41):
        view["user_id"] = snap["user_id"]
    if req.at_least(3, 65):
        view["consumes_quota"] = True
    return view


def create_snapshot(cloud, req):
    body = req.json()
    validate(SNAPSHOT_SCHEMA, body)
    spec = body["snapshot"]
    force = parse_bool(spec["force"]) if spec.get("force") is not None else False
    in_use_allowed = req.at_least(3, 66)
    if in_use_allowed and spec.get("force") is not None and force is False:
        raise fault(400, "Since microversion 3.66 the 'force' flag is invalid for this request."
                         "  For backward compatability, however, when the 'force' flag is "
                         "passed with a value evaluating to True, it is silently ignored.")
    with cloud.lock:
        volume = get_volume(cloud, spec["volume_id"])
        valid = ("available", "in-use") if force or in_use_allowed else ("available",)
        if volume["status"] not in valid:
            raise fault(400, f"Invalid volume: Volume {volume['id']} status must be "
                             f"{', '.join(valid)}, but current status is: "
                             f"{volume['status']}.")
        used = cinder_usage(cloud)
        if used["snapshots"] + 1 > cloud.quotas["snapshots"]:
            raise fault(413, f"Maximum number of snapshots allowed "
                             f"({cloud.quotas['snapshots']}) exceeded", retryAfter="0")
        check_gigabytes(cloud, volume["size"])
        t = now()
        snap = {"id": new_id(), "name": spec.get("name", spec.get("display_name")),
                "description": spec.get("description"), "status": "creating",
                "size": volume["size"], "volume_id": volume["id"], "created": t, "updated": t,
                "metadata": dict(spec.get("metadata") or {}),
                "user_id": req.token["user"]["id"]}
        cloud.snapshots[snap["id"]] = snap
        view = snapshot_view(cloud, snap, req)
    run_later(settle, cloud, snap, "creating", "available")
    return 202, {"snapshot": view}


def list_snapshots(cloud, req, detail=False):
    with cloud.lock:
        snaps = sorted(cloud.snapshots.values(), key=lambda s: s["created"], reverse=True)
        views = [snapshot_view(cloud, s, req) for s in snaps
                 if all(req.arg(k) in (None, s[k]) for k in ("name", "status", "volume_id"))]
    if not detail:
        views = [{k: v[k] for k in ("id", "name", "description", "status", "size",
                                    "volume_id", "created_at", "updated_at", "metadata")}
                 for v in views]
    return 200, {"snapshots": views}


def get_snapshot(cloud, snapshot_id):
    snap = cloud.snapshots.get(snapshot_id)
    if snap is None:
        raise fault(404, f"Snapshot {snapshot_id} could not be found.")
    return snap


def show_snapshot(cloud, req, snapshot_id):
    with cloud.lock:
        return 200, {"snapshot": snapshot_view(cloud, get_snapshot(cloud, snapshot_id), req)}


def delete_snapshot(cloud, req, snapshot_id):
    with cloud.lock:
        snap = get_snapshot(cloud, snapshot_id)
        if snap["status"] not in ("available", "error"):
            raise fault(400, "Invalid snapshot: Snapshot status must be available or error "
                             "and must not be part of a group.")
        snap["status"] = "deleting"
    run_later(forget_later, cloud, cloud.snapshots, snapshot_id)
    return 202, None


# ---------------------------------------------------------------------------------------------
# Glance (image v2)
# ---------------------------------------------------------------------------------------------

def glance_versions(cloud, req):
    versions = [{"id": f"v2.{n}", "status": "CURRENT" if n == 16 else "SUPPORTED",
                 "links": [{"rel": "self", "href": cloud.base + "/image/v2/"}]}
                for n in range(16, -1, -1)]
    return 300, {"versions": versions}


def image_view(cloud, image):
    stamp = iso_z(image["created"])
    digest = hashlib.sha512(image["id"].encode()).hexdigest()
    return {"id": image["id"], "name": image["name"], "status": "active",
            "visibility": "public", "protected": True, "os_hidden": False,
            "owner": stable_id("project", "nectar-images"), "disk_format": "qcow2",
            "container_format": "bare", "size": 2361393152, "virtual_size": 10737418240,
            "min_disk": 10, "min_ram": 0, "checksum": hashlib.md5(image["id"].encode())
            .hexdigest(), "os_hash_algo": "sha512", "os_hash_value": digest,
            "created_at": stamp, "updated_at": stamp, "tags": [],
            "default_user": "ubuntu", "os_distro": "ubuntu", "architecture": "x86_64",
            "self": f"/v2/images/{image['id']}", "file": f"/v2/images/{image['id']}/file",
            "schema": "/v2/schemas/image"}


GLANCE_PAGING = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status"}


def list_images(cloud, req):
    views = [image_view(cloud, i) for i in cloud.images.values()]
    for key, values in req.query.items():
        if key in GLANCE_PAGING:
            continue
        wanted = values[-1]
        # Unknown keys filter on image properties, as in Glance.
        views = [v for v in views if str(v.get(key)) == wanted]
    return 200, {"images": views, "schema": "/v2/schemas/images", "first": "/v2/images"}


def show_image(cloud, req, image_id):
    image = cloud.images.get(image_id)
    if image is None:
        raise ApiError(404, "404 Not Found\n\nThe resource could not be found.\n\n "
                            f"No image found with ID {image_id}\n\n")
    return 200, image_view(cloud, image)


# ---------------------------------------------------------------------------------------------
# Neutron (network v2.0)
# ---------------------------------------------------------------------------------------------

def neutron_versions(cloud, req):
    return 200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                               "links": [{"rel": "self",
                                          "href": cloud.base + "/network/v2.0/"}]}]}


def neutron_not_found(kind, ident):
    return ApiError(404, {"NeutronError": {"type": f"{kind.title().replace('_', '')}NotFound",
                                           "message": f"{kind.replace('_', ' ').title()} "
                                                      f"{ident} could not be found.",
                                           "detail": ""}})


def network_view(cloud):
    stamp = "2024-05-01T03:00:00Z"
    return {"id": cloud.network_id, "name": cloud.network_name, "status": "ACTIVE",
            "admin_state_up": True, "shared": True, "router:external": False,
            "tenant_id": stable_id("project", "nectar-admin"),
            "project_id": stable_id("project", "nectar-admin"), "subnets": [], "mtu": 1500,
            "availability_zone_hints": [], "availability_zones": list(cloud.zones),
            "port_security_enabled": True, "ipv4_address_scope": None,
            "ipv6_address_scope": None, "is_default": False, "l2_adjacency": True,
            "description": "", "tags": [], "created_at": stamp, "updated_at": stamp,
            "revision_number": 1}


def filtered(items, req, skip=("fields", "limit", "marker", "sort_key", "sort_dir")):
    for key, values in req.query.items():
        if key in skip:
            continue
        items = [i for i in items if str(i.get(key)).lower() in
                 {str(v).lower() for v in values}]
    return items


def list_networks(cloud, req):
    return 200, {"networks": filtered([network_view(cloud)], req)}


def show_network(cloud, req, network_id):
    if network_id != cloud.network_id:
        raise neutron_not_found("network", network_id)
    return 200, {"network": network_view(cloud)}


def security_group_view(cloud, group):
    rules = []
    if group["name"] != "default":
        ports = {"ssh": (22, 22), "http": (80, 80), "couchdb": (5984, 5984)}[group["name"]]
        rules.append({"id": stable_id("rule", group["name"]), "direction": "ingress",
                      "ethertype": "IPv4", "protocol": "tcp", "port_range_min": ports[0],
                      "port_range_max": ports[1], "remote_ip_prefix": "0.0.0.0/0",
                      "remote_group_id": None, "security_group_id": group["id"],
                      "tenant_id": cloud.project["id"], "project_id": cloud.project["id"],
                      "description": ""})
    return {"id": group["id"], "name": group["name"], "description": group["description"],
            "tenant_id": cloud.project["id"], "project_id": cloud.project["id"],
            "security_group_rules": rules, "stateful": True, "shared": False, "tags": [],
            "created_at": "2024-05-01T03:00:00Z", "updated_at": "2024-05-01T03:00:00Z",
            "revision_number": 1}


def list_security_groups(cloud, req):
    groups = [security_group_view(cloud, g) for g in cloud.security_groups.values()]
    return 200, {"security_groups": filtered(groups, req)}


def show_security_group(cloud, req, group_id):
    group = cloud.security_groups.get(group_id)
    if group is None:
        raise neutron_not_found("security_group", group_id)
    return 200, {"security_group": security_group_view(cloud, group)}


def neutron_extensions(cloud, req):
    return 200, {"extensions": []}


def network_zones(cloud, req):
    return 200, {"availability_zones": [{"name": z, "resource": "network", "state": "available"}
                                        for z in cloud.zones]}


# ---------------------------------------------------------------------------------------------
# Routing and HTTP
# ---------------------------------------------------------------------------------------------

ID = r"([^/]+)"
# (service, method, path regex after the service prefix, handler, needs token)
ROUTES = [
    ("identity", "GET", r"/?", identity_versions, False),
    ("identity", "GET", r"/v3/?", identity_v3, False),
    ("identity", "POST", r"/v3/auth/tokens", issue_token, False),
    ("identity", "GET", r"/v3/auth/tokens", validate_token, False),
    ("identity", "DELETE", r"/v3/auth/tokens", revoke_token, False),

    ("compute", "GET", r"/?", nova_versions, False),
    ("compute", "GET", r"/v2\.1/?", nova_version, False),
    ("compute", "GET", r"/v2\.1/servers", list_servers, True),
    ("compute", "GET", r"/v2\.1/servers/detail", lambda c, r: list_servers(c, r, True), True),
    ("compute", "POST", r"/v2\.1/servers", create_server, True),
    ("compute", "GET", rf"/v2\.1/servers/{ID}", show_server, True),
    ("compute", "DELETE", rf"/v2\.1/servers/{ID}", delete_server, True),
    ("compute", "POST", rf"/v2\.1/servers/{ID}/action", server_action, True),
    ("compute", "GET", rf"/v2\.1/servers/{ID}/os-volume_attachments", list_attachments, True),
    ("compute", "POST", rf"/v2\.1/servers/{ID}/os-volume_attachments", attach_volume, True),
    ("compute", "GET", rf"/v2\.1/servers/{ID}/os-volume_attachments/{ID}", show_attachment,
     True),
    ("compute", "DELETE", rf"/v2\.1/servers/{ID}/os-volume_attachments/{ID}", detach_volume,
     True),
    ("compute", "GET", r"/v2\.1/flavors", list_flavors, True),
    ("compute", "GET", r"/v2\.1/flavors/detail", lambda c, r: list_flavors(c, r, True), True),
    ("compute", "GET", rf"/v2\.1/flavors/{ID}", show_flavor, True),
    ("compute", "GET", rf"/v2\.1/flavors/{ID}/os-extra_specs", flavor_extra_specs, True),
    ("compute", "GET", r"/v2\.1/os-keypairs", list_keypairs, True),
    ("compute", "GET", rf"/v2\.1/os-keypairs/{ID}", show_keypair, True),
    ("compute", "GET", r"/v2\.1/os-availability-zone", availability_zones, True),
    ("compute", "GET", r"/v2\.1/os-availability-zone/detail", availability_zones_detail, True),
    ("compute", "GET", r"/v2\.1/limits", limits, True),

    ("volume", "GET", r"/?", cinder_versions, False),
    ("volume", "GET", r"/v3/?", cinder_v3, False),
    ("volume", "GET", r"/v3/{P}/volumes", list_volumes, True),
    ("volume", "GET", r"/v3/{P}/volumes/detail", lambda c, r: list_volumes(c, r, True), True),
    ("volume", "POST", r"/v3/{P}/volumes", create_volume, True),
    ("volume", "GET", rf"/v3/{{P}}/volumes/{ID}", show_volume, True),
    ("volume", "DELETE", rf"/v3/{{P}}/volumes/{ID}", delete_volume, True),
    ("volume", "GET", r"/v3/{P}/snapshots", list_snapshots, True),
    ("volume", "GET", r"/v3/{P}/snapshots/detail", lambda c, r: list_snapshots(c, r, True),
     True),
    ("volume", "POST", r"/v3/{P}/snapshots", create_snapshot, True),
    ("volume", "GET", rf"/v3/{{P}}/snapshots/{ID}", show_snapshot, True),
    ("volume", "DELETE", rf"/v3/{{P}}/snapshots/{ID}", delete_snapshot, True),
    ("volume", "GET", r"/v3/{P}/os-availability-zone", volume_zones, True),
    ("volume", "GET", r"/v3/{P}/limits", cinder_limits, True),
    ("volume", "GET", r"/v3/{P}/types", volume_types, True),

    ("image", "GET", r"/?", glance_versions, False),
    ("image", "GET", r"/versions", glance_versions, False),
    ("image", "GET", r"/v2/images", list_images, True),
    ("image", "GET", rf"/v2/images/{ID}", show_image, True),

    ("network", "GET", r"/?", neutron_versions, False),
    ("network", "GET", r"/v2\.0/networks", list_networks, True),
    ("network", "GET", rf"/v2\.0/networks/{ID}", show_network, True),
    ("network", "GET", r"/v2\.0/security-groups", list_security_groups, True),
    ("network", "GET", rf"/v2\.0/security-groups/{ID}", show_security_group, True),
    ("network", "GET", r"/v2\.0/extensions", neutron_extensions, True),
    ("network", "GET", r"/v2\.0/availability_zones", network_zones, True),
]


def compile_routes(project_id):
    compiled = []
    for service, method, pattern, handler, auth in ROUTES:
        pattern = pattern.replace("{P}", re.escape(project_id))
        compiled.append((service, method, re.compile(pattern + r"(?:\.json)?"), handler, auth))
    return compiled


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cloud = None
    routes = []
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("standin: " + (fmt % args) + "\n")

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        service, _, rest = url.path.lstrip("/").partition("/")
        req = Request(self.command, "/" + rest, parse_qs(url.query, keep_blank_values=True),
                      self.headers, raw)
        headers = {"X-Openstack-Request-Id": "req-" + new_id()}
        try:
            result = self.dispatch(service, req, headers)
        except ApiError as e:
            result = (e.status, e.body, e.headers)
        except Exception as e:  # an honest 500 rather than a hung client
            traceback.print_exc()
            result = (500, {"computeFault": {"code": 500, "message": str(e)}}, {})
        status, body = result[0], result[1]
        headers.update(result[2] if len(result) > 2 else {})
        self.reply(status, body, headers)

    def dispatch(self, service, req, headers):
        versioned = {"compute": ("compute", NOVA_MIN, NOVA_MAX),
                     "volume": ("volume", CINDER_MIN, CINDER_MAX)}
        matched_path = False
        for svc, method, pattern, handler, auth in self.routes:
            if svc != service:
                continue
            m = pattern.fullmatch(req.path)
            if not m:
                continue
            matched_path = True
            if method != req.method and not (req.method == "HEAD" and method == "GET"):
                continue
            if auth:
                check_token(self.cloud, req)
            if service in versioned:
                name, low, high = versioned[service]
                req.version = parse_version(requested_version(req, name), name, low, high)
                text = "%d.%d" % req.version
                headers["OpenStack-API-Version"] = f"{name} {text}"
                headers["Vary"] = "OpenStack-API-Version"
                if name == "compute":
                    headers["X-OpenStack-Nova-API-Version"] = text
                    headers["Vary"] += ", X-OpenStack-Nova-API-Version"
            return handler(self.cloud, req, *m.groups())
        if matched_path:
            raise fault(405, "The method specified is not allowed for this resource.")
        if service == "identity":
            raise keystone_error(404, "Not Found", "The resource could not be found.")
        raise fault(404, "The resource could not be found.")

    def reply(self, status, body, headers):
        if body is None:
            data = b""
        elif isinstance(body, str):
            data = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=UTF-8")
        else:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        if status == 401:
            headers["WWW-Authenticate"] = f"Keystone uri=\"{self.cloud.base}/identity\""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(data)


def main():
    global NOVA_MAX, CINDER_MAX
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True,
                        help="JSON: project, users, application_credentials, keypairs, "
                             "quotas, availability_zones")
    parser.add_argument("--network-name", required=True,
                        help="the Docker network (and Neutron network name) servers join")
    parser.add_argument("--docker-image", required=True,
                        help="the SSH test-host image (integration/image/build.sh)")
    parser.add_argument("--compute-max-version", metavar="2.N",
                        help="the highest Nova microversion offered (default %d.%d), to play an "
                             "older cloud" % NOVA_MAX)
    parser.add_argument("--volume-max-version", metavar="3.N",
                        help="the highest Cinder microversion offered (default %d.%d)"
                             % CINDER_MAX)
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="shut down (and clean up) when standard input closes, so that a "
                             "test runner killed outright leaves nothing running")
    args = parser.parse_args()
    if args.compute_max_version:
        NOVA_MAX = tuple(int(p) for p in args.compute_max_version.split("."))
    if args.volume_max_version:
        CINDER_MAX = tuple(int(p) for p in args.volume_max_version.split("."))
    with open(args.config) as f:
        config = json.load(f)
    base = f"http://127.0.0.1:{args.port}"
    cloud = Cloud(config, args.network_name, args.docker_image, base)
    cloud.docker.ensure_network()
    Handler.cloud = cloud
    Handler.routes = compile_routes(cloud.project["id"])
    Handler.verbose = args.verbose
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.read(), stop(None, None)),
                         daemon=True).start()
    print(f"listening on {base}", flush=True)
    try:
        httpd.serve_forever()
    finally:
        cloud.docker.cleanup()


if __name__ == "__main__":
    main()
