import os

import pytest

from airtwin.twin import llvm


@pytest.mark.parametrize(
    "name, major",
    [("libLLVM.so.19.1", 19), ("libLLVM-19.so", 19), ("libLLVM-15.so.1", 15), ("libLLVM-14.0.6.so.1", 14),
     ("libLLVM.so", None)],
)
def test_version_from_file_name(name, major):
    assert llvm.llvm_major_version(f"/usr/lib/x86_64-linux-gnu/{name}") == major


def test_find_prefers_newest_supported(tmp_path):
    for name in ("libLLVM-14.so.1", "libLLVM-15.so", "libLLVM.so.17.0", "libLLVM.so.19.1"):
        (tmp_path / name).write_bytes(b"")
    assert llvm.find_libllvm(globs=(str(tmp_path / "libLLVM*.so*"),)) == str(tmp_path / "libLLVM.so.19.1")


def test_find_ignores_old_versions(tmp_path):
    (tmp_path / "libLLVM-15.so.1").write_bytes(b"")
    assert llvm.find_libllvm(globs=(str(tmp_path / "libLLVM*.so*"),)) is None


def test_missing_llvm_names_the_package(monkeypatch):
    monkeypatch.delenv(llvm.ENV_VAR, raising=False)
    monkeypatch.setattr(llvm, "find_libllvm", lambda *a, **k: None)
    with pytest.raises(llvm.LLVMNotFoundError, match="libllvm19"):
        llvm.configure_llvm()


def test_env_var_to_old_llvm_is_refused(monkeypatch, tmp_path):
    old = tmp_path / "libLLVM-15.so.1"
    old.write_bytes(b"")
    monkeypatch.setenv(llvm.ENV_VAR, str(old))
    with pytest.raises(llvm.LLVMNotFoundError, match="LLVM 15"):
        llvm.configure_llvm()
    monkeypatch.setenv(llvm.ENV_VAR, str(tmp_path / "missing.so"))
    with pytest.raises(llvm.LLVMNotFoundError, match="does not exist"):
        llvm.configure_llvm()


def test_this_machine_has_a_usable_llvm():
    path = llvm.configure_llvm()
    assert os.path.isfile(path)


def test_cuda_variant_needs_no_llvm():
    from airtwin.twin.backend import _cuda_variant_runs

    assert _cuda_variant_runs("cuda_ad_mono_polarized")
    assert not _cuda_variant_runs("llvm_ad_mono_polarized")
