# Writes a small .npy file (no numpy needed): write_npy.py OUT DESCR SHAPE VALUES...
#   python3 write_npy.py x.npy '<f4' 2,3 1 2 3 4 5 6
import struct
import sys

out, descr, shape = sys.argv[1], sys.argv[2], tuple(int(s) for s in sys.argv[3].split(",") if s)
values = sys.argv[4:]
fmt = {"<f4": "f", "<f8": "d", "<i4": "i", "<i8": "q", "|b1": "?", "|u1": "B"}[descr]
conv = float if fmt in "fd" else int
header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, repr(shape))
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
with open(out, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%d%s" % (len(values), fmt), *(conv(v) for v in values)))
