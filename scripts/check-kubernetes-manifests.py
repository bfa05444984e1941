#!/usr/bin/python3
"""Checks Kubernetes manifests against the typed models of the kubernetes Python client (Debian's
python3-kubernetes), an implementation of the API's types independent of Mitosis.

Usage: check-kubernetes-manifests.py PATH...   (files, or directories searched for *.yaml/*.yml)

Each document of each file is deserialized into the model its apiVersion and kind name (V1Service,
V1Endpoints, V1ConfigMap, V1StatefulSet, ...) through ApiClient.deserialize, then serialized
back. The model's setters reject a missing required field; a field the model does not have is
dropped by the deserializer and a value of another type is converted (or refused), so any
difference between the document and its round trip is reported, with its path. Exit 0 when every
document passes, 1 otherwise (each problem on stderr), 2 on bad usage.
"""
import json
import os
import sys

import yaml
from kubernetes import client


class Response:
    """What ApiClient.deserialize reads: a response whose `data` is the JSON text."""

    def __init__(self, data):
        self.data = data


def model_name(document):
    api_version = str(document.get("apiVersion", ""))
    kind = str(document.get("kind", ""))
    version = api_version.split("/")[-1]
    if not version or not kind:
        return None
    return version[0].upper() + version[1:] + kind


def differences(original, back, path):
    """Where the round trip differs from the document, as readable lines."""
    if isinstance(original, dict) and isinstance(back, dict):
        found = []
        for key, value in original.items():
            where = f"{path}.{key}" if path else key
            if key not in back:
                found.append(f"{where}: not a field of the model (dropped)" if value is not None else f"{where}: null")
            else:
                found.extend(differences(value, back[key], where))
        for key in back:
            if key not in original:
                found.append(f"{path}.{key}: appeared in the round trip")
        return found
    if isinstance(original, list) and isinstance(back, list):
        if len(original) != len(back):
            return [f"{path}: {len(original)} items became {len(back)}"]
        found = []
        for index, (item, other) in enumerate(zip(original, back)):
            found.extend(differences(item, other, f"{path}[{index}]"))
        return found
    if type(original) is not type(back) or original != back:
        return [f"{path}: {original!r} ({type(original).__name__}) became {back!r} ({type(back).__name__}): wrong type or value"]
    return []


def check_document(api, document):
    """The problems of one document (empty when it passes)."""
    if not isinstance(document, dict):
        return [f"not a mapping but {type(document).__name__}"]
    name = model_name(document)
    if name is None:
        return ["no apiVersion or kind"]
    if not hasattr(client.models, name):
        return [f"no model {name} for apiVersion {document.get('apiVersion')} kind {document.get('kind')}"]
    try:
        model = api.deserialize(Response(json.dumps(document)), name)
    except (ValueError, TypeError, AttributeError) as error:
        return [f"{name} refused it: {error}"]
    back = api.sanitize_for_serialization(model)
    return [f"{name}: {line}" for line in differences(document, back, "")]


def files(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in sorted(os.walk(path)):
                for name in sorted(names):
                    if name.endswith((".yaml", ".yml")):
                        yield os.path.join(root, name)
        else:
            yield path


def main(arguments):
    if not arguments:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    api = client.ApiClient()
    problems = []
    documents = 0
    kinds = set()
    checked = 0
    for path in files(arguments):
        checked += 1
        try:
            with open(path, encoding="utf-8") as stream:
                loaded = list(yaml.safe_load_all(stream))
        except (OSError, yaml.YAMLError) as error:
            problems.append(f"{path}: cannot be read as YAML: {error}")
            continue
        for index, document in enumerate(loaded):
            if document is None:
                continue
            documents += 1
            label = f"{path} document {index + 1}"
            if isinstance(document, dict):
                label += f" ({document.get('kind')} {document.get('metadata', {}).get('name')})"
                kinds.add(str(document.get("kind")))
            problems.extend(f"{label}: {problem}" for problem in check_document(api, document))
    if checked == 0 or documents == 0:
        problems.append(f"no Kubernetes document found in {' '.join(arguments)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {documents} documents", file=sys.stderr)
        return 1
    print(f"{documents} documents in {checked} files match the kubernetes client's models ({', '.join(sorted(kinds))})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
