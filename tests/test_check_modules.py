"""Self-tests of check_modules.py: it passes on the crate, and fails on a cycle, on an import from
`crypto` up to `config`, on a layer using one above it, and on a file over the line limit."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_modules.py")
CRATE = os.path.join(HERE, "..", "shared", "src")


def run(src, *args):
    return subprocess.run(
        [sys.executable, CHECK, src, *args], capture_output=True, text=True, check=False
    )


def tree(files):
    root = tempfile.mkdtemp()
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
    return root


class CheckModules(unittest.TestCase):
    def test_the_crate_has_no_cycle_and_no_file_over_400_lines_of_code(self):
        result = run(CRATE, "--max-lines", "400")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("no cycle", result.stdout)

    def test_an_import_from_crypto_up_to_config_fails(self):
        copy = tempfile.mkdtemp()
        shutil.copytree(CRATE, os.path.join(copy, "src"))
        with open(os.path.join(copy, "src", "crypto", "keys.rs"), "a", encoding="utf-8") as f:
            f.write("\nuse crate::config::Settings;\n")
        result = run(os.path.join(copy, "src"))
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("import cycle", result.stderr)
        self.assertIn("crate::crypto::keys", result.stderr)
        self.assertIn("layering: crate::crypto::keys (layer 0) uses crate::config", result.stderr)

    def test_a_cycle_through_a_facade_and_inline_paths_is_found(self):
        root = tree({
            "lib.rs": "pub mod a;\npub mod b;\n",
            "a.rs": "pub struct A;\npub fn f() -> crate::b::B { crate::b::B }\n",
            "b/mod.rs": "mod inner;\npub use inner::B;\n",
            "b/inner.rs": "use crate::a::A;\npub struct B;\nfn g(_: A) {}\n",
        })
        result = run(root)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("import cycle: crate::a -> crate::b::inner -> crate::a", result.stderr)

    def test_test_code_and_a_pure_facade_make_no_cycle(self):
        root = tree({
            "lib.rs": "pub mod a;\npub mod b;\n",
            "a.rs": "pub struct A;\n#[cfg(test)]\nmod tests {\n    use crate::b::B;\n}\n",
            "b/mod.rs": "mod inner;\npub use inner::B;\n",
            "b/inner.rs": "use crate::a::A;\npub struct B(A);\n// crate::a::A in a comment\n",
        })
        result = run(root)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_parent_that_defines_what_its_child_uses_is_a_cycle(self):
        root = tree({
            "lib.rs": "pub mod domain;\n",
            "domain/mod.rs": "mod code;\npub use code::Code;\npub struct Invalid;\n",
            "domain/code.rs": "use super::Invalid;\npub struct Code(Invalid);\n",
        })
        result = run(root)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("crate::domain -> crate::domain::code -> crate::domain", result.stderr)

    def test_a_file_over_the_limit_fails(self):
        root = tree({"lib.rs": "".join(f"pub const C{i}: u8 = 0;\n" for i in range(12))})
        self.assertEqual(run(root, "--max-lines", "12").returncode, 0)
        result = run(root, "--max-lines", "11")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("12 lines of code (at most 11)", result.stderr)


if __name__ == "__main__":
    unittest.main()
