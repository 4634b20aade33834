#!/usr/bin/python3
# Oracle for sbat/merge_test.go: evaluates Python expressions against the real
# merge_sbat() of ukify 262.1, with pefile.PE replaced by a stand-in whose only
# section is a .sbat section holding the given bytes (pes(...) returns one
# such fake PE path per argument). Run from the repository root:
#
#   PYTHONPATH=.cache/reftools/sid/usr/lib/python3/dist-packages \
#     /usr/bin/python3 sbat/testdata/merge_oracle.py "mod.merge_sbat(pes(STUB), [S])"
#
# It prints each expression, repr() of its value (or of the exception it
# raised) and what ukify wrote to stderr.
import importlib.machinery, importlib.util, sys, io, contextlib, os
loader = importlib.machinery.SourceFileLoader('ukify', os.environ.get('UKIFY', '.cache/reftools/sid/usr/bin/ukify'))
spec = importlib.util.spec_from_loader('ukify', loader)
mod = importlib.util.module_from_spec(spec)
loader.exec_module(mod)

_files = {}
class _Sec:
    def __init__(self, data): self.Name = b'.sbat\0\0\0'; self.data = data
    def get_data(self): return self.data
class _PE:
    def __init__(self, f, fast_load=False): self.sections = [_Sec(_files[f])]
mod.pefile.PE = _PE
def pes(*datas):
    names = []
    for d in datas:
        n = 'pe%d' % len(_files); _files[n] = d; names.append(n)
    return names

H = b'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md'
STUB = H + b'\nstub-x,1,Example Stub Vendor,stub-x,7,https://stub.example/\n' + b'\0' * 64
KERNEL = H + b'\nlinux,1,The Linux Developers,linux,6.1,https://linux.example/\nlinux.acme,2,Acme,linux,6.1-3,mailto:sec@acme.example\n' + b'\0' * 16
S = mod.STUB_SBAT
A = mod.ADDON_SBAT
T1 = 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\r\nfoo,1,Foo Inc,foo,1.0,https://foo.example/\r\nbar,03,Bar,bar,2,https://bar.example/'
T2 = 'sbat,2,Other Header,sbat,9,x\n\n\nbaz,65535,Baz,baz,0.1,https://baz.example/\n\n'

def run(expr):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            r = eval(expr)
        except Exception as e:
            r = e
    return r, err.getvalue()

for expr in sys.argv[1:]:
    r, e = run(expr)
    print(expr); print('  ->', repr(r)); print('  stderr', repr(e))
