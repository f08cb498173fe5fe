#!/usr/bin/python3
"""dkimpy's ARC (python3-dkim) as the independent side of tern's ARC tests.

  dkimpy_arc.py verify MESSAGE ZONE
      prints the chain validation status dkimpy finds (pass, fail, none),
      a space and its reason
  dkimpy_arc.py sign MESSAGE ZONE KEY DOMAIN SELECTOR SRV_ID TIMESTAMP
      prints the ARC set dkimpy adds to MESSAGE (ARC-Seal first); the cv=
      comes from the Authentication-Results of SRV_ID in the message

ZONE is a file of "name record" lines, the TXT records dnsfunc answers.
"""
import sys

import dkim


def read_zone(path):
    records = {}
    with open(path, 'rb') as f:
        for line in f:
            name, _, record = line.rstrip(b'\r\n').partition(b' ')
            records[name.lower()] = record
    return records


def main():
    command, message_path, zone_path = sys.argv[1:4]
    records = read_zone(zone_path)

    def dnsfunc(name, timeout=5):
        if isinstance(name, str):
            name = name.encode()
        return records.get(name.rstrip(b'.').lower())

    with open(message_path, 'rb') as f:
        message = f.read()
    if command == 'verify':
        cv, _, reason = dkim.arc_verify(message, dnsfunc=dnsfunc)
        status = cv.decode() if isinstance(cv, bytes) else str(cv).lower()
        sys.stdout.write('%s %s' % (status, reason))
    elif command == 'sign':
        key_path, domain, selector, srv_id, timestamp = sys.argv[4:9]
        with open(key_path, 'rb') as f:
            key = f.read()
        fields = dkim.arc_sign(message, selector.encode(), domain.encode(), key, srv_id.encode(),
                               timestamp=timestamp)
        sys.stdout.buffer.write(b''.join(fields))
    else:
        sys.exit('unknown command ' + command)


if __name__ == '__main__':
    main()
