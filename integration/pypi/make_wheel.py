"""Writes a minimal pure-Python wheel, NAME-VERSION-py3-none-any.whl, into OUT_DIR/NAME/ (the
layout of a simple package index served as plain directory listings), for the tests' local
package index. The package holds one module, NAME, with VERSION in it.

Usage: python3 make_wheel.py OUT_DIR NAME VERSION [REQUIREMENT...]
"""
import base64
import hashlib
import os
import sys
import zipfile


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def main():
    out, name, version, *requires = sys.argv[1:]
    module = name.replace("-", "_")
    dist = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{dist}/METADATA": (
            "Metadata-Version: 2.1\n"
            f"Name: {name}\n"
            f"Version: {version}\n"
            "Summary: a package built by the provision tests\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: provision-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{module}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as whl:
        records = []
        for file, data in files.items():
            whl.writestr(file, data)
            records.append(record_line(file, data))
        records.append(f"{dist}/RECORD,,")
        whl.writestr(f"{dist}/RECORD", "\n".join(records) + "\n")
    print(path)


main()
