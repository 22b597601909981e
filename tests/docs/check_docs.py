#!/usr/bin/python3
"""The documentation says what the code does.

    check_docs.py readme SRC          README.md is a front door: at most 300
                                      lines, every variable in its table,
                                      every relative link in it and in docs/
                                      pointing at a file that exists
    check_docs.py pages SRC           the man pages name every variable
                                      (shim/config.c), every option of the
                                      wrapper (wrapper/main.c) and of the
                                      collector (collector/options.c), and
                                      no option the code lacks; every system
                                      call in shim/ is in libaccept4shim(3)'s
                                      list and in systemd's @system-service
    check_docs.py trace SRC LIBRARY   every key the formatter writes, in a
                                      record, an exit and an interval summary,
                                      JSON and text alike, is in
                                      accept4shim-trace(5)'s section for it
                                      (the keys come from real output: a
                                      probe run with LIBRARY preloaded)
    check_docs.py recipes SRC         the README's and docs/deploying.md's
                                      systemd drop-ins pass systemd-analyze
                                      verify next to their unit, with no lone
                                      %p; their YAML parses, a pod spec's
                                      env as Kubernetes takes it

Each names what is missing and exits 1; the names are read from the code,
so a variable, option, system call or key added there and not to the page
fails here.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

README_MAX_LINES = 300
problems = []


def problem(text):
    problems.append(text)


def read(src, path):
    with open(os.path.join(src, path), encoding="utf-8") as f:
        return f.read()


def render(src, page):
    """The page as plain text: no hyphenation (HY=0) and lines long enough
    (LL) that no name is ever split or folded."""
    out = subprocess.run(
        ["groff", "-man", "-Tutf8", "-rHY=0", "-rLL=2000n", "-P-cbou",
         os.path.join(src, "man", page)],
        check=True, capture_output=True, text=True).stdout
    return out.replace("\u2010", "-").replace("\u2212", "-")


def sections(text):
    """{SECTION NAME: its text}, sections being the unindented upper-case
    headings of a rendered page."""
    out, name = {}, None
    for line in text.split("\n"):
        if re.match(r"^[A-Z][A-Z -]+$", line):
            name = line.strip()
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def words(text):
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", text))


def code_variables(src):
    return sorted(set(re.findall(r'"(ACCEPT4SHIM_[A-Z_]+)"', read(src, "shim/config.c"))))


def code_options(src, path):
    """The long options a getopt_long table in the file declares."""
    return sorted(set(re.findall(r'\{\s*"([a-z][a-z-]*)",\s*(?:required|no|optional)_argument',
                                 read(src, path))))


def page_options(section_text):
    """The options an OPTIONS section describes: the tags of its items."""
    return sorted(set(re.findall(r"^\s{0,8}--([a-z][a-z-]*)", section_text, re.M)))


def check_readme(src):
    readme = read(src, "README.md")
    n = readme.count("\n")
    if n > README_MAX_LINES:
        problem("README.md has %d lines, more than %d: reference belongs in the man pages, "
                "notes in docs/" % (n, README_MAX_LINES))
    for var in code_variables(src):
        if not re.search(r"^\| `%s` \|" % var, readme, re.M):
            problem("README.md's variable table has no row for %s (shim/config.c reads it)" % var)
    docs = [os.path.join("docs", f) for f in sorted(os.listdir(os.path.join(src, "docs")))
            if f.endswith(".md")]
    for doc in ["README.md"] + docs:
        text = read(src, doc)
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"^[a-z]+:", target):
                continue
            path = os.path.normpath(os.path.join(src, os.path.dirname(doc), target))
            if not os.path.exists(path):
                problem("%s links to %s, which does not exist" % (doc, target))
    index = read(src, "docs/README.md")
    for doc in docs:
        name = os.path.basename(doc)
        if name != "README.md" and "(%s)" % name not in index:
            problem("docs/README.md does not list %s" % name)


def check_pages(src):
    lib = sections(render(src, "libaccept4shim.3.in"))
    cmd = sections(render(src, "accept4shim.1.in"))
    col = sections(render(src, "accept4shim-collector.1.in"))
    for var in code_variables(src):
        if var not in words(lib.get("ENVIRONMENT", "")):
            problem("libaccept4shim(3) ENVIRONMENT does not describe %s (shim/config.c)" % var)
        if var not in words(cmd.get("ENVIRONMENT", "")):
            problem("accept4shim(1) ENVIRONMENT does not name %s (shim/config.c)" % var)
    for page, secs, path in (("accept4shim(1)", cmd, "wrapper/main.c"),
                             ("accept4shim-collector(1)", col, "collector/options.c")):
        in_code = code_options(src, path)
        in_page = page_options(secs.get("OPTIONS", ""))
        if not in_code:
            problem("no options found in %s: the extraction is broken" % path)
        for o in in_code:
            if o not in in_page:
                problem("%s OPTIONS does not describe --%s (%s has it)" % (page, o, path))
        for o in in_page:
            if o not in in_code:
                problem("%s OPTIONS describes --%s, which %s does not have" % (page, o, path))
    shim = "".join(read(src, os.path.join("shim", f))
                   for f in sorted(os.listdir(os.path.join(src, "shim")))
                   if f.endswith((".c", ".h")))
    calls = sorted(set(re.findall(r"\bSYS_([a-z][a-z0-9_]*)", shim)))
    if not calls:
        problem("no system calls found in shim/: the extraction is broken")
    notes = words(lib.get("NOTES", ""))
    for c in calls:
        if c not in notes:
            problem("libaccept4shim(3) NOTES does not list the system call %s (shim/ makes it)" % c)
    service = system_service_calls()
    for c in calls:
        if c not in service:
            problem("shim/ makes the system call %s, which systemd's @system-service does not "
                    "allow: the README says every one is" % c)


def system_service_calls():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], check=True,
                         capture_output=True, text=True).stdout
    groups, name = {}, None
    for line in out.split("\n"):
        s = line.strip()
        if line.startswith("@"):
            name = s
            groups[name] = set()
        elif s and not s.startswith("#") and name:
            groups[name].add(s)

    def expand(group, seen):
        calls = set()
        for item in groups.get(group, ()):
            if item.startswith("@"):
                if item not in seen:
                    calls |= expand(item, seen | {item})
            else:
                calls.add(item)
        return calls

    calls = expand("@system-service", {"@system-service"})
    if len(calls) < 100:
        problem("systemd-analyze gave only %d calls for @system-service" % len(calls))
    return calls


def trace_lines(library, fmt):
    env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": library, "ACCEPT4SHIM_LOG": "stderr",
           "ACCEPT4SHIM_LOG_FORMAT": fmt, "ACCEPT4SHIM_STATS": "1",
           "ACCEPT4SHIM_STATS_INTERVAL": "1"}
    probe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trace_probe.py")
    run = subprocess.run(["/usr/bin/python3", probe], env=env, capture_output=True, text=True,
                         timeout=60)
    if run.returncode != 0:
        problem("the probe failed (%d): %s" % (run.returncode, run.stderr))
    return [line for line in run.stderr.split("\n") if line]


def kinds_of_keys(lines, fmt):
    """{"record"|"exit"|"interval": [keys in order]} from real lines."""
    out = {}
    for line in lines:
        if fmt == "json":
            obj = json.loads(line)
            keys = list(obj)
            kind = obj.get("summary", "record")
        else:
            if not line.startswith("accept4shim: "):
                problem("a text line without its tag: %r" % line)
                continue
            keys = re.findall(r"(?:^accept4shim: | )([a-z_]+)=", line)
            m = re.search(r" summary=([a-z]+)", line)
            kind = m.group(1) if m else "record"
        if kind in out and out[kind] != keys:
            problem("two %s lines with different keys: %s and %s" % (kind, out[kind], keys))
        out[kind] = keys
    return out


def check_trace(src, library):
    found = {fmt: kinds_of_keys(trace_lines(library, fmt), fmt) for fmt in ("json", "text")}
    for kind in ("record", "exit", "interval"):
        for fmt in ("json", "text"):
            if kind not in found[fmt]:
                problem("the probe wrote no %s line in %s: is the library loaded (%s)?"
                        % (kind, fmt, library))
    if problems:
        return
    for kind in ("record", "exit", "interval"):
        if found["json"][kind] != found["text"][kind]:
            problem("%s keys differ between JSON %s and text %s"
                    % (kind, found["json"][kind], found["text"][kind]))
    page = sections(render(src, "accept4shim-trace.5.in"))
    where = {"record": "RECORDS", "exit": "EXIT SUMMARY", "interval": "INTERVAL SUMMARY"}
    for kind, section in where.items():
        text = words(page.get(section, ""))
        for key in found["json"][kind]:
            if key not in text:
                problem("accept4shim-trace(5) %s does not describe the key %s, which the "
                        "library writes" % (section, key))
    print("keys checked: record %d, exit summary %d, interval summary %d"
          % tuple(len(found["json"][k]) for k in ("record", "exit", "interval")))


def blocks(text, lang):
    return re.findall(r"^```%s\n(.*?)^```" % lang, text, re.M | re.S)


def check_pod_env(doc, spec, variables):
    """A pod spec's env as Kubernetes takes it: each entry a name and either a
    string value (an unquoted 60 is refused by the API server) or a
    valueFrom; an ACCEPT4SHIM_ name one the library reads."""
    if not isinstance(spec, dict) or spec.get("kind") != "Pod":
        return
    for c in (spec.get("spec") or {}).get("containers") or []:
        for e in c.get("env") or []:
            name = e.get("name") if isinstance(e, dict) else None
            if not isinstance(name, str):
                problem("%s: a pod env entry without a name: %r" % (doc, e))
                continue
            if ("value" in e) == ("valueFrom" in e):
                problem("%s: pod env %s needs one of value and valueFrom" % (doc, name))
            elif "value" in e and not isinstance(e["value"], str):
                problem("%s: pod env %s: value %r is not a string (quote it)"
                        % (doc, name, e["value"]))
            if name.startswith("ACCEPT4SHIM_") and name not in variables:
                problem("%s: pod env %s is no variable the library reads" % (doc, name))


def check_recipes(src):
    import yaml
    checked = 0
    for doc in ("README.md", "docs/deploying.md"):
        text = read(src, doc)
        for block in blocks(text, "yaml"):
            try:
                spec = yaml.safe_load(block)
                checked += 1
            except yaml.YAMLError as e:
                problem("%s: a YAML block does not parse: %s" % (doc, e))
                continue
            check_pod_env(doc, spec, code_variables(src))
        for block in blocks(text, "ini"):
            m = re.match(r"# /etc/systemd/system/([^/\s]+)\.d/([^/\s]+\.conf)\n", block)
            if not m:
                continue
            unit, name = m.groups()
            for line in block.split("\n"):
                if re.match(r"^Environment=.*(?<!%)%p", line.replace("%%", "")):
                    problem("%s: %s: a lone %%p, which systemd takes for the unit's name: %s"
                            % (doc, name, line))
            shipped = os.path.join("/lib/systemd/system", unit)
            if not os.path.exists(shipped):
                problem("%s: no %s to verify %s against (its package is in scripts/deps)"
                        % (doc, shipped, name))
                continue
            with tempfile.TemporaryDirectory() as d:
                shutil.copy(shipped, d)
                os.mkdir(os.path.join(d, unit + ".d"))
                with open(os.path.join(d, unit + ".d", name), "w") as f:
                    f.write(block)
                run = subprocess.run(["systemd-analyze", "verify", os.path.join(d, unit)],
                                     env=dict(os.environ, SYSTEMD_UNIT_PATH=d + ":"),
                                     capture_output=True, text=True)
                said = [l for l in (run.stdout + run.stderr).split("\n") if d in l]
                if run.returncode != 0 or said:
                    problem("%s: %s fails systemd-analyze verify: %s"
                            % (doc, name, "\n".join(said) or run.stderr))
                checked += 1
    if checked < 3:
        problem("only %d recipes found to check: the extraction is broken" % checked)
    else:
        print("recipes checked: %d" % checked)


def main():
    what, src = sys.argv[1], sys.argv[2]
    if what == "readme":
        check_readme(src)
    elif what == "pages":
        check_pages(src)
    elif what == "trace":
        check_trace(src, sys.argv[3])
    elif what == "recipes":
        check_recipes(src)
    else:
        problem("unknown check %s" % what)
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print("%s: every check passed" % what)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
