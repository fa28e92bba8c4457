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
	python3 tools/winebench.py --python 3.13 python -- -m benchmarks
clean:
	rm -rf build dist *.egg-info .cache/bench/dist
