"""Upload a case list, see the preview with the diff, confirm, see the snapshot."""

from __future__ import annotations

from playwright.sync_api import expect

from kontroll.demo import demo_case_list_csv
from tests.support.browser import check_page, login_as


def _next_month_file(tmp_path):
    lines = demo_case_list_csv("IFO-FS", 1).decode("utf-8").split("\r\n")
    header, rows = lines[0], [r for r in lines[1:] if r]
    rows = rows[5:]  # five cases ended
    rows.append("EB-2026-99991;19121212-0000;Klient X;Åsa Öberg;ASOB;Grupp 1;2026-11-02;2026-11-10;Övriga;5 000,00")
    parts = rows[0].split(";")
    parts[3], parts[4], parts[5] = "Nils Persson", "NIPE", "Grupp 3"  # one case moves
    rows[0] = ";".join(parts)
    path = tmp_path / "arendelista-december.csv"
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("utf-8"))
    return path


def test_upload_preview_confirm_and_view(page, tmp_path):
    login_as(page, "forste1")
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="IFO-FS").click()
    expect(page.get_by_role("heading", name="Ärendelista")).to_be_visible()
    page.get_by_role("link", name="Importera ny ärendelista").click()
    check_page(page, "caselist-upload")

    # a broken file first: a clear refusal, nothing stored
    bad = tmp_path / "trasig.csv"
    bad.write_bytes(b"Nummer;Vem\r\nA;B\r\n")
    page.get_by_label("Fil (CSV eller xlsx)").set_input_files(str(bad))
    page.get_by_role("button", name="Förhandsgranska").click()
    expect(page.get_by_role("alert")).to_contain_text("Ingenting har sparats")
    check_page(page, "caselist-upload-refused")

    page.get_by_label("Fil (CSV eller xlsx)").set_input_files(str(_next_month_file(tmp_path)))
    page.get_by_role("button", name="Förhandsgranska").click()
    expect(page.get_by_role("heading", name="Förhandsgranska ärendelistan")).to_be_visible()
    expect(page.get_by_text("1 nya ärenden", exact=True)).to_be_visible()
    expect(page.get_by_text("5 ärenden finns inte längre med", exact=True)).to_be_visible()
    expect(page.get_by_text("1 ärenden har bytt handläggare", exact=True)).to_be_visible()
    expect(page.get_by_text("Sparas inte")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("19121212")
    page.get_by_text("Ärenden som bytt handläggare").click()
    check_page(page, "caselist-preview")

    page.get_by_role("button", name="Spara ärendelistan").click()
    expect(page.get_by_text("Ärendelistan är sparad")).to_be_visible()
    page.get_by_label("Grupp").select_option("Grupp 1")
    page.get_by_role("button", name="Filtrera").click()
    expect(page.get_by_text("matchar filtret")).to_be_visible()
    expect(page.get_by_role("cell", name="EB-2026-99991")).to_be_visible()
    check_page(page, "caselist-snapshot")

    page.get_by_role("link", name="← Ärendelistor för IFO-FS").click()
    expect(page.get_by_role("row")).to_have_count(4)  # header + three snapshots
    check_page(page, "caselist-list")


def test_settings_page_and_api_key(page):
    login_as(page, "sektionschef")
    page.goto("/enheter/IFO-FS/arendelistor/installningar")
    check_page(page, "caselist-settings")
    page.get_by_label("Beskrivning av ny nyckel").fill("Nattlig export")
    page.get_by_role("button", name="Skapa nyckel").click()
    expect(page.get_by_text("Den visas bara den här gången")).to_be_visible()
    check_page(page, "caselist-settings-token")
