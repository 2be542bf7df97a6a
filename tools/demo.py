"""`make demo`: make synthetic MeViS-M, train the tiny TGL model, test it with oracle grounding."""
import sys

if __name__ == '__main__':
    sys.exit('[tgl_mm] set-up finished; the demo pipeline (synthetic data -> train -> test) is not '
             'available yet: it arrives with the model (issue 4).')
