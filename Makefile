# Shortcuts over tools/bench (which needs no make): see README.md.
.PHONY: demo test setup bench clean
demo:
	tools/bench demo
test:
	tools/bench test
setup:
	python3 tools/winebench.py --python all setup
bench:
	python3 tools/winebench.py --python 3.13 setup
	for name in bench_handles bench_ports bench_bulk_parse; do \
		python3 tools/winebench.py --python 3.13 benchmark $$name || exit 1; done
clean:
	rm -rf build dist *.egg-info .cache/bench/dist
