"""The reference documents generated from the declarations (chaos_layer.cli.reference) are checked
in: these tests fail while chaos_layer/schema.json or a table of the docs pages is stale, and say
how to regenerate them (`make schema`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos_layer.cli import reference
from chaos_layer.config import Config
from chaos_layer.contract import Declared
from chaos_layer.faults import FAULT_TYPES, Fault

REGENERATE = "stale: run `make schema` (python -m chaos_layer.cli.reference) and commit the result"


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def generated() -> list[str]:
    """The names of the generated blocks on all the pages."""
    return [name for page in reference.pages() for name in reference.blocks(text(page))]


def test_schema_json_is_generated_from_the_declarations() -> None:
    assert reference.SCHEMA_PATH.read_text(encoding="utf-8") == reference.schema_text(), REGENERATE


@pytest.mark.parametrize("page", reference.pages(), ids=lambda path: path.name)
def test_the_pages_tables_are_generated_from_the_declarations(page: Path) -> None:
    assert reference.page_text(text(page)) == text(page), REGENERATE


def test_the_pages_document_every_fault_type_once() -> None:
    listed = [kind for name in generated() if name.startswith("faults ") for kind in name.split()[1:]]
    assert sorted(listed) == sorted(FAULT_TYPES)


def test_the_reference_has_the_config_and_blast_radius_tables() -> None:
    assert {"config", "blast-radius"} <= set(generated())
    configuration = text(reference.DOCS_PATH / "configuration.md")
    assert reference.blocks(configuration) == ["config"]


def declared_classes() -> list[type[Declared]]:
    found: list[type[Declared]] = [Config, Fault, *FAULT_TYPES.values()]
    for declared in Config.config_fields:
        control = reference.declared_object(declared)
        if control is not None:
            found.append(control)
    return found


@pytest.mark.parametrize("declared", declared_classes(), ids=lambda cls: cls.__name__)
def test_every_key_has_one_line_of_doc(declared: type[Declared]) -> None:
    for key in declared.config_fields:
        assert key.doc.strip(), f"{declared.__name__}.{key.name} has no doc"
        assert "\n" not in key.doc
        assert "|" not in key.doc


@pytest.mark.parametrize("kind", FAULT_TYPES)
def test_every_fault_type_describes_itself_with_examples(kind: str) -> None:
    fault_type = FAULT_TYPES[kind]
    assert fault_type.description.strip()
    assert fault_type.examples
    assert all(example["type"] == kind for example in fault_type.examples)


def test_a_stale_block_is_rewritten_and_the_rest_left_alone() -> None:
    text = "intro\n<!-- BEGIN GENERATED: config -->\nold table\n<!-- END GENERATED -->\noutro\n"
    rewritten = reference.page_text(text)
    assert rewritten.startswith("intro\n<!-- BEGIN GENERATED: config -->\n\n| key | value | default | meaning |")
    assert rewritten.endswith("\n<!-- END GENERATED -->\noutro\n")
    assert "old table" not in rewritten
    assert reference.page_text(rewritten) == rewritten


@pytest.mark.parametrize("name", ["faults", "faults teleport", "nothing"])
def test_an_unknown_block_is_an_error(name: str) -> None:
    with pytest.raises(ValueError, match="no generated table"):
        reference.table(name)


def test_check_reports_stale_files_and_writing_fixes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    schema, readme_copy, docs = tmp_path / "schema.json", tmp_path / "README.md", tmp_path / "docs"
    schema.write_text("{}\n")
    readme_copy.write_text("nothing generated here\n")
    docs.mkdir()
    (docs / "faults.md").write_text("<!-- BEGIN GENERATED: blast-radius -->\nold\n<!-- END GENERATED -->\n")
    monkeypatch.setattr(reference, "SCHEMA_PATH", schema)
    monkeypatch.setattr(reference, "README_PATH", readme_copy)
    monkeypatch.setattr(reference, "DOCS_PATH", docs)

    assert reference.main(["--check"]) == 1
    assert "stale: schema.json, faults.md" in capsys.readouterr().err
    assert schema.read_text() == "{}\n"

    assert reference.main([]) == 0
    assert schema.read_text() == reference.schema_text()
    assert reference.main(["--check"]) == 0
