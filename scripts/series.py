#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The patch series: parses patches/series and splits the project's
patches into change blocks, so that one patch file can feed several
commits. Used by scripts/patches; `series.py changes FILE.patch` lists a
patch's change blocks."""

import re
import sys

HUNK = re.compile(r'^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@')
CONTEXT = 3


def parse_patch(text):
    """Returns (header lines, [(old_start, [lines])]) of a unified diff of
    one file."""
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    header, hunks, cur = [], [], None
    for ln in lines:
        m = HUNK.match(ln)
        if m:
            cur = (int(m.group(1)), [])
            hunks.append(cur)
        elif cur is None:
            header.append(ln)
        else:
            cur[1].append(ln)
    return header, hunks


def changes(text):
    """Splits every hunk into change blocks: runs of -/+ lines separated by
    context, each with up to CONTEXT context lines around it. Returns the
    header and a list of (old_start, lines) mini-hunks, in file order."""
    header, hunks = parse_patch(text)
    out = []
    for start, body in hunks:
        # old line number of each body line (context and '-' lines count)
        i = 0
        while i < len(body):
            if body[i][:1] in '-+':
                j = i
                while j < len(body) and body[j][:1] in '-+':
                    j += 1
                a = i
                while a > 0 and i - a < CONTEXT and body[a - 1][:1] == ' ':
                    a -= 1
                b = j
                while b < len(body) and b - j < CONTEXT and body[b][:1] == ' ':
                    b += 1
                # patch(1) anchors a hunk with less context on one side to
                # the start or end of the file: keep both sides equal,
                # unless the original hunk was at the file's start or end.
                at_start = a == 0 and start <= 1
                at_end = b == len(body) and i - a > b - j
                n = min(i - a, b - j)
                if not at_start:
                    a = i - n if not at_end else a
                if not at_end:
                    b = j + (i - a if at_start else n)
                old = start + sum(1 for ln in body[:a] if ln[:1] != '+')
                out.append((old, body[a:b]))
                i = j
            else:
                i += 1
    return header, out


def render(header, blocks):
    """A patch of the given change blocks (line numbers are approximate:
    patch(1) finds each block by its context)."""
    text = list(header)
    shift = 0
    for old, body in blocks:
        n_old = sum(1 for ln in body if ln[:1] != '+')
        n_new = sum(1 for ln in body if ln[:1] != '-')
        text.append('@@ -%d,%d +%d,%d @@' % (old, n_old, old + shift, n_new))
        text.extend(body)
        shift += n_new - n_old
    return '\n'.join(text) + '\n'


def parse_series(text):
    """Blocks of 'Subject:' and 'Files:' lines, a blank line and the body,
    ended by a line '---'. Returns [(subject, [items], body)]."""
    out = []
    subject, items, body, in_body = None, [], [], False
    for ln in text.split('\n'):
        if not in_body and ln.startswith('#'):
            continue
        if ln == '---':
            if subject:
                out.append((subject, items, '\n'.join(body).strip('\n')))
            subject, items, body, in_body = None, [], [], False
        elif in_body:
            body.append(ln)
        elif ln.startswith('Subject: '):
            subject = ln[len('Subject: '):].strip()
        elif ln.startswith('Files: ') or ln.startswith('       '):
            items += ln.split()[1:] if ln.startswith('Files: ') else ln.split()
        elif ln.strip() == '' and subject:
            in_body = True
        elif ln.strip():
            raise SystemExit('series: cannot parse line: ' + ln)
    if subject:
        raise SystemExit('series: the last block has no closing ---')
    return out


OVERLAY_DIRS = [
    'Documentation/PCI/liveupdate.rst', 'Documentation/PCI/vfio-liveupdate.rst',
    'Documentation/ABI/testing/sysfs-bus-pci-liveupdate', 'drivers/pci/liveupdate',
    'drivers/vfio/pci/vfio_pci_liveupdate.c', 'drivers/vfio/pci/vfio_pci_liveupdate.h',
    'drivers/iommu/intel/liveupdate.c', 'include/linux', 'include/kho_abi', 'rust',
    'tools/testing/selftests/pci_liveupdate',
]


def tree_path(repo_path):
    """Where scripts/integrate installs an overlay file."""
    if repo_path.startswith('include/kho_abi/'):
        return 'include/linux/kho/abi/' + repo_path[len('include/kho_abi/'):]
    return repo_path


def build(top, base, work):
    """Commits every block of patches/series in the git repo `base` (on the
    branch checked out, starting from the pristine source) and checks the
    result against the integrated tree `work`."""
    import os
    import shutil
    import subprocess
    import tempfile

    def git(*args, **kw):
        return subprocess.run(['git', '-C', base, '-c', 'user.name=PCI Live Update',
                               '-c', 'user.email=pci-liveupdate@example.org',
                               '-c', 'commit.gpgsign=false'] + list(args),
                              check=True, text=True, **kw)

    files = subprocess.run(['git', '-C', top, 'ls-files', '--'] + OVERLAY_DIRS,
                           check=True, text=True, capture_output=True).stdout.split()
    overlay = set(f for f in files if os.path.isfile(os.path.join(top, f)))
    patches = {}
    for name in sorted(os.listdir(os.path.join(top, 'patches'))):
        if name.endswith('.patch'):
            path = 'patches/' + name
            patches[path] = changes(open(os.path.join(top, path)).read())
    used_files, used_blocks, touched, errors = set(), set(), set(), []
    prefixes = set()
    series = parse_series(open(os.path.join(top, 'patches/series')).read())
    for subject, items, body in series:
        for item in items:
            path, _, sel = item.partition(':')
            if path in patches:
                header, blocks = patches[path]
                picks = [int(x) for x in sel.split(',')] if sel else range(1, len(blocks) + 1)
                for k in picks:
                    if not 1 <= k <= len(blocks) or (path, k) in used_blocks:
                        errors.append('%s: change %d missing or used twice' % (path, k))
                        continue
                    used_blocks.add((path, k))
                text = render(header, [blocks[k - 1] for k in picks if 1 <= k <= len(blocks)])
                target = next(ln[6:] for ln in header if ln.startswith('+++ b/'))
                touched.add(target)
                with tempfile.NamedTemporaryFile('w', suffix='.patch') as tmp:
                    tmp.write(text)
                    tmp.flush()
                    r = subprocess.run(['patch', '-p1', '-s', '-F0', '--no-backup-if-mismatch',
                                        '-d', base, '-i', tmp.name], text=True,
                                       capture_output=True)
                    if r.returncode:
                        errors.append('%s: does not apply in "%s": %s' % (item, subject, r.stdout + r.stderr))
                continue
            path, _, marker = item.partition('@')
            if marker:
                # The file up to the first line naming MARKER; the whole
                # file must come in a later patch.
                src = os.path.join(top, path)
                if path not in overlay or path in used_files:
                    errors.append('%s: no such overlay file, or already whole' % item)
                    continue
                lines = open(src).read().split('\n')
                cut = next((i for i, ln in enumerate(lines) if marker in ln), None)
                if cut is None:
                    errors.append('%s: %s does not name %s' % (item, path, marker))
                    continue
                head = lines[:cut]
                while head and not head[-1].strip():
                    head.pop()
                if not head:
                    errors.append('%s: nothing comes before %s' % (item, marker))
                    continue
                dst = os.path.join(base, tree_path(path))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, 'w') as fh:
                    fh.write('\n'.join(head) + '\n')
                shutil.copymode(src, dst)
                prefixes.add(path)
                continue
            chosen = [f for f in overlay if f == path or f.startswith(path.rstrip('/') + '/')]
            if not chosen:
                errors.append('%s: no such overlay file or patch' % item)
            for f in sorted(chosen):
                if f in used_files:
                    errors.append('%s: used twice' % f)
                used_files.add(f)
                dst = os.path.join(base, tree_path(f))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(os.path.join(top, f), dst)
                shutil.copymode(os.path.join(top, f), dst)
                touched.add(tree_path(f))
        git('add', '-A', '-f')
        git('commit', '-q', '-s', '-F', '-', input=subject + '\n\n' + body + '\n')
    for f in sorted(prefixes - used_files):
        errors.append('%s: a patch adds its start, none the whole file' % f)
    for f in sorted(overlay - used_files):
        errors.append('%s: not in any patch of the series' % f)
    for path, (_, blocks) in patches.items():
        for k in range(1, len(blocks) + 1):
            if (path, k) not in used_blocks:
                errors.append('%s: change %d not in any patch of the series' % (path, k))
    for f in sorted(touched):
        a, b = os.path.join(base, f), os.path.join(work, f)
        if not os.path.isfile(b) or open(a, 'rb').read() != open(b, 'rb').read():
            errors.append('%s: the series and the integrated tree differ' % f)
    for e in errors:
        print('series: ' + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == 'build':
        sys.exit(build(*sys.argv[2:]))
    if len(sys.argv) == 3 and sys.argv[1] == 'changes':
        _, blocks = changes(open(sys.argv[2]).read())
        for k, (old, body) in enumerate(blocks, 1):
            first = next(ln for ln in body if ln[:1] in '-+')
            print('%d: line %d: %s' % (k, old, first[:90]))
    else:
        sys.exit('usage: series.py changes FILE.patch | build TOP BASE WORK_TREE')
