"""The persistent compilation cache: on by default in the user's cache folder, opt-out works."""

import os
import subprocess
import sys

SHOW = "import jax, jaxsig; print(jax.config.jax_compilation_cache_dir)"


def cache_dir_in_fresh_process(**env) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JAXSIG_")} | env
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_cache_defaults_to_the_users_cache_folder(tmp_path):
    assert cache_dir_in_fresh_process(XDG_CACHE_HOME=str(tmp_path)) == str(
        tmp_path / "jaxsig" / "xla"
    )


def test_cache_opt_out_and_user_choice_are_respected(tmp_path):
    assert cache_dir_in_fresh_process(JAXSIG_COMPILATION_CACHE="0") == "None"
    mine = str(tmp_path / "mine")
    assert cache_dir_in_fresh_process(JAX_COMPILATION_CACHE_DIR=mine) == mine
