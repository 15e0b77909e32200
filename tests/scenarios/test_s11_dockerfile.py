# SPDX-License-Identifier: Apache-2.0
"""Scenario 11, the Dockerfile reference [seed 003 "DockerFile 작성하기"]: FROM, LABEL,
RUN, COPY, ADD (a local tar, unpacked; a URL), CMD, EXPOSE, ENV, WORKDIR,
ENTRYPOINT + CMD, a multi-stage build (`AS build`, `COPY --from=build`), `.dockerignore`,
and the layer cache reused when only a late layer's input changes.

The URL that ADD fetches is served by a small HTTP server of the test on 127.0.0.1 (the
daemon fetches ADD URLs itself, on the host)."""

from __future__ import annotations

import io
import re
import tarfile
import textwrap

import pytest

from tests.scenarios.helpers import file_server, unique

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]

DOCKERFILE = """\
    # 1단계: build the artifact (the seed uses maven; busybox concatenates "sources" here)
    FROM busybox AS build
    WORKDIR /src
    COPY src ./src
    RUN mkdir -p /app/target && cat src/*.part > /app/target/app.jar

    # 2단계: the runtime image
    FROM python:3.9-slim
    LABEL maintainer="name@example.com"
    ENV API_KEY="YOUR_API_KEY"
    WORKDIR /app
    RUN echo "made by RUN in $(pwd)" > /app/run.txt
    ADD things.tar.gz /usr/src/things/
    ADD {url}/big.txt /usr/src/remote/
    COPY --from=build /app/target/*.jar app.jar
    EXPOSE 8080
    COPY . /app
    ENTRYPOINT ["python"]
    CMD ["app.py"]
    """

APP = """\
    import os
    print("cwd=" + os.getcwd())
    print("API_KEY=" + os.environ["API_KEY"])
    print("files=" + ",".join(sorted(os.listdir("/app"))))
    print("run=" + open("/app/run.txt").read().strip())
    print("jar=" + open("/app/app.jar").read().strip().replace("\\n", "|"))
    things = sorted(os.path.relpath(os.path.join(d, f), "/usr/src/things") for d, _, fs in os.walk("/usr/src/things") for f in fs)
    print("things=" + ",".join(things))
    print("remote=" + open("/usr/src/remote/big.txt").read().strip())
    print("version={version}")
    """


def make_context(directory, url: str):
    directory.mkdir()
    (directory / "Dockerfile").write_text(textwrap.dedent(DOCKERFILE.format(url=url)))
    (directory / "app.py").write_text(textwrap.dedent(APP.format(version=1)))
    (directory / "other.py").write_text("print('other script, same entrypoint')\n")
    (directory / "src").mkdir()
    (directory / "src" / "a.part").write_text("class A\n")
    (directory / "src" / "b.part").write_text("class B\n")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for path, data in (("things/readme.txt", b"unpacked by ADD\n"), ("lib/x.txt", b"x\n")):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (directory / "things.tar.gz").write_bytes(raw.getvalue())
    # What .dockerignore keeps out of the build context.
    (directory / ".dockerignore").write_text("*.log\nsecret.env\nnode_modules\n")
    (directory / "debug.log").write_text("noise\n")
    (directory / "secret.env").write_text("API_KEY=real-secret\n")
    (directory / "node_modules").mkdir()
    (directory / "node_modules" / "junk.js").write_text("junk\n")


def steps(output: str) -> dict[str, bool]:
    """Each `Step N/M : INSTRUCTION` of a classic build -> whether it was a cache hit."""
    found = {}
    parts = re.split(r"^Step \d+/\d+ : ", output, flags=re.M)[1:]
    for part in parts:
        instruction, _, rest = part.partition("\n")
        found[instruction.strip()] = " ---> Using cache" in rest
    return found


def built_id(output: str) -> str:
    match = re.search(r"^Successfully built ([0-9a-f]{12})$", output, re.M)
    assert match, output
    return match.group(1)


def test_dockerfile_reference(client, made, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "big.txt").write_text("fetched from a URL by ADD\n")
    with file_server(served) as url:
        context = tmp_path / "context"
        make_context(context, url)
        image = made.image(f"{unique('reference')}:1")
        first = client("build", "-t", image, ".", cwd=context, timeout=1500)
        assert f"Successfully tagged {image}" in first.out, first.out
        first_steps = steps(first.out)
        assert len(first_steps) == 16, first_steps
        # (The context differs per run, the Dockerfile holding the URL: from `COPY . /app` on,
        # nothing can come from an earlier run's cache.)
        assert not first_steps["COPY . /app"], first.out

        # ENTRYPOINT ["python"] + CMD ["app.py"]
        out = client.out("run", "--rm", image).splitlines()
        values = dict(line.split("=", 1) for line in out)
        assert values["cwd"] == "/app"                                    # WORKDIR
        assert values["API_KEY"] == "YOUR_API_KEY"                         # ENV
        assert values["run"] == "made by RUN in /app"                      # RUN (in WORKDIR)
        assert values["jar"] == "class A|class B"                          # COPY --from=build
        assert values["things"] == "lib/x.txt,things/readme.txt"           # ADD local tar: unpacked
        assert values["remote"] == "fetched from a URL by ADD"             # ADD URL
        assert values["version"] == "1"
        files = values["files"].split(",")
        assert {"app.py", "other.py", "app.jar", "run.txt", "src", "Dockerfile"} <= set(files), files
        for ignored in ("debug.log", "secret.env", "node_modules"):        # .dockerignore
            assert ignored not in files, files
        # CMD is replaced by run's arguments; the ENTRYPOINT stays.
        assert client.out("run", "--rm", image, "other.py") == "other script, same entrypoint\n"
        # The build stage's files and tools stay out of the final image.
        check = "test ! -e /src && test ! -e /bin/busybox && test ! -e /usr/src/things/things.tar.gz && echo clean"
        assert client.out("run", "--rm", "--entrypoint", "sh", image, "-c", check) == "clean\n"

        config = client.inspect(image, "image")["Config"]
        base_labels = client.inspect("python:3.9-slim", "image")["Config"]["Labels"] or {}
        assert config["Labels"] == {**base_labels, "maintainer": "name@example.com"}  # LABEL (plus the base's)
        assert "API_KEY=YOUR_API_KEY" in config["Env"]
        assert config["WorkingDir"] == "/app"
        assert config["ExposedPorts"] == {"8080/tcp": {}}                 # EXPOSE
        assert config["Entrypoint"] == ["python"] and config["Cmd"] == ["app.py"]

        # Nothing changed: every step comes from the cache, and the same image results.
        again = client("build", "-t", image, ".", cwd=context, timeout=600)
        again_steps = steps(again.out)
        assert all(again_steps[s] for s in again_steps if not s.startswith("FROM")), again.out
        assert built_id(again.out) == built_id(first.out)

        # Only app.py changed: the steps before `COPY . /app` are reused, that one and the
        # ones after it run again.
        (context / "app.py").write_text(textwrap.dedent(APP.format(version=2)))
        image2 = made.image(f"{image.split(':')[0]}:2")
        third = client("build", "-t", image2, ".", cwd=context, timeout=600)
        third_steps = steps(third.out)
        order = list(third_steps)
        late = order.index("COPY . /app")
        for instruction in order[:late]:
            if not instruction.startswith("FROM"):
                assert third_steps[instruction], (instruction, third.out)
        for instruction in order[late:]:
            assert not third_steps[instruction], (instruction, third.out)
        assert third.out.count(" ---> Using cache") >= 10, third.out
        assert built_id(third.out) != built_id(first.out)
        assert client.out("run", "--rm", image2).splitlines()[-1] == "version=2"
        assert client.out("run", "--rm", image).splitlines()[-1] == "version=1"
