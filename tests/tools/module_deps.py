#!/usr/bin/env python3
"""Lists which agent module uses which (from the symbols of the object files, with nm) and
fails when the dependencies form a cycle, or when a file includes another module's private
header (NAME_int.h is for module NAME only). A module is the file pair agent/NAME.c/.h; files
NAME_PART.c belong to module NAME when agent/NAME.h exists (journal_sql.c is the journal;
input_http.c is a module of its own, there is no input.h).
usage: module_deps.py OBJECT_DIR [--dot]"""
import os
import subprocess
import sys


def module_of(obj, headers):
    name = os.path.basename(obj).split('.')[0]
    parts = name.split('_')
    for n in range(1, len(parts) + 1):  # the shortest prefix that has a header
        cand = '_'.join(parts[:n])
        if cand in headers:
            return cand
    return name


def symbols(obj):
    out = subprocess.run(['nm', obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in 'TDBR':
            defined.add(f[2])
        elif len(f) == 2 and f[0] == 'U':
            undefined.add(f[1])
    return defined, undefined


def main():
    objdir = sys.argv[1]
    agent = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'agent')
    headers = {f[:-2] for f in os.listdir(agent) if f.endswith('.h')}
    objs = sorted(os.path.join(objdir, f) for f in os.listdir(objdir) if f.endswith('.o'))
    owner, uses = {}, {}
    for o in objs:
        d, u = symbols(o)
        m = module_of(o, headers)
        for s in d:
            owner[s] = m
        uses.setdefault(m, set()).update(u)
    graph = {m: sorted({owner[s] for s in u if s in owner and owner[s] != m})
             for m, u in uses.items()}
    for m in sorted(graph):
        print('%-14s -> %s' % (m, ' '.join(graph[m]) or '(nothing)'))
    # cycles: depth-first search for a back edge
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in graph.get(m, []):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    for c in cycles:
        print('cycle: ' + ' -> '.join(c))
    private = 0
    for f in sorted(os.listdir(agent)):
        if not f.endswith(('.c', '.h')):
            continue
        mine = module_of(f, headers)
        with open(os.path.join(agent, f)) as src:
            for line in src:
                if line.startswith('#include "') and '_int.h"' in line:
                    inc = line.split('"')[1]
                    if module_of(inc[:-len('_int.h')], headers) != mine:
                        print('private header: %s includes %s' % (f, inc))
                        private += 1
    return 1 if cycles or private else 0


if __name__ == '__main__':
    sys.exit(main())
