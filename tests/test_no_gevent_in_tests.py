import sys


def test_locust_and_gevent_are_not_imported_into_the_test_process():
    # locust monkeypatches ssl through gevent; it must only ever run as a subprocess.
    assert "gevent" not in sys.modules
    assert "locust" not in sys.modules
