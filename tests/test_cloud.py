"""The cloud leg against a real loopback HTTP server speaking the images API contract."""

from __future__ import annotations

import json

import pytest

from edgegen.cloud.images import CloudSettings, read_api_key, run_cloud
from edgegen.cloud.prices import load_prices
from edgegen.errors import CloudError
from edgegen.runtime.generate import plan

from .openai_server import FakeImagesAPI

KEY = "sk-test-DO-NOT-LEAK-0123456789"


@pytest.fixture
def api():
    with FakeImagesAPI() as server:
        yield server


def _settings(api, **kw):
    return CloudSettings(
        **{"model": "dall-e-3", "base_url": api.base_url, "max_retries": 2, "timeout_s": 10, "max_usd": 5.0, **kw}
    )


def _lines(folder, name="manifest.jsonl"):
    path = folder / name
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_success_b64_and_url_with_provenance(api, tmp_path):
    items = plan(["normal", "pneumonia"], 1, "a chest X-ray, {class}", 0)
    result = run_cloud(items, _settings(api), load_prices(), tmp_path, KEY)
    assert result.generated == 2 and result.spent_usd == pytest.approx(0.08)
    lines = _lines(tmp_path)
    assert [x["revised_prompt"] for x in lines] == [
        "A detailed a chest X-ray, normal",
        "A detailed a chest X-ray, pneumonia",
    ]
    assert all(x["model"] == "dall-e-3" and x["cost_usd"] == 0.04 and x["latency_s"] >= 0 for x in lines)
    from PIL import Image

    with Image.open(tmp_path / lines[0]["file"]) as im:
        assert im.text["synthetic"] == "true" and im.text["backend"] == "cloud"
    # Only text went out: the request bodies hold prompts and options, never image data.
    assert all(set(r) <= {"model", "prompt", "n", "size", "quality", "response_format"} for r in api.requests)
    url_dir = tmp_path / "url"
    result = run_cloud(
        items[:1], _settings(api, model="dall-e-2", size="256x256", response_format="url"), load_prices(), url_dir, KEY
    )
    assert result.generated == 1 and _lines(url_dir)[0]["cost_usd"] == 0.016


def test_gpt_image_cost_comes_from_usage(api, tmp_path):
    items = plan(["normal"], 1, "a chest X-ray, {class}", 0)
    result = run_cloud(items, _settings(api, model="gpt-image-1", quality="low"), load_prices(), tmp_path, KEY)
    expected = (20 * 5.0 + 272 * 40.0) / 1e6
    assert result.spent_usd == pytest.approx(expected) and _lines(tmp_path)[0]["usage"]["output_tokens"] == 272


def test_429_then_success_is_retried(api, tmp_path):
    api.script = ["429", "429"]
    result = run_cloud(plan(["normal"], 1, "{class}", 0), _settings(api), load_prices(), tmp_path, KEY)
    assert result.generated == 1 and len(api.requests) == 3


def test_500_exhaustion_is_a_clear_error_and_resumable(api, tmp_path):
    items = plan(["normal"], 3, "{class}", 0)
    api.script = ["ok", "500", "500", "500"]
    with pytest.raises(CloudError, match="HTTP 500 after 2 retries"):
        run_cloud(items, _settings(api), load_prices(), tmp_path, KEY)
    assert len(_lines(tmp_path)) == 1
    result = run_cloud(items, _settings(api), load_prices(), tmp_path, KEY)
    assert result.skipped == 1 and result.generated == 2 and len(_lines(tmp_path)) == 3


def test_content_policy_refusal_is_recorded_and_the_run_goes_on(api, tmp_path):
    api.script = ["400-policy"]
    result = run_cloud(plan(["normal", "pneumonia"], 1, "{class}", 0), _settings(api), load_prices(), tmp_path, KEY)
    assert (
        result.generated == 1 and len(result.refused) == 1 and result.refused[0]["code"] == "content_policy_violation"
    )
    assert _lines(tmp_path, "refusals.jsonl")[0]["class"] == "normal"


def test_timeout(api, tmp_path):
    api.script = ["slow", "slow"]
    with pytest.raises(CloudError, match="did not answer within 0.5 s"):
        run_cloud(
            plan(["normal"], 1, "{class}", 0),
            _settings(api, timeout_s=0.5, max_retries=1),
            load_prices(),
            tmp_path,
            KEY,
        )


def test_budget_stops_before_exceeding(api, tmp_path):
    items = plan(["normal", "pneumonia"], 3, "{class}", 0)
    result = run_cloud(items, _settings(api, max_usd=0.10), load_prices(), tmp_path, KEY)
    assert result.stopped_by_budget and result.generated == 2 and result.total_usd <= 0.10
    assert len(api.requests) == 2  # the third request was never sent
    again = run_cloud(items, _settings(api, max_usd=0.10), load_prices(), tmp_path, KEY)
    assert again.generated == 0 and again.stopped_by_budget  # the folder's spend counts


def test_key_never_appears_in_outputs_or_logs(api, tmp_path, run_cli, monkeypatch, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    out = tmp_path / "out"
    api.script = ["400-policy"]
    code, stdout, stderr = run_cli(
        "dalle",
        "--out",
        str(out),
        "--n",
        "2",
        "--api-key-file",
        str(key_file),
        "--base-url",
        api.base_url,
        "--max-usd",
        "1",
        "--json",
    )
    assert code == 0
    assert api.headers[0]["authorization"] == f"Bearer {KEY}"  # it was really used
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in stdout and KEY not in stderr and KEY not in caplog.text
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    api.script = ["500", "500", "500", "500"]
    code, stdout, stderr = run_cli(
        "dalle", "--out", str(tmp_path / "o2"), "--base-url", api.base_url, "--max-retries", "1"
    )
    assert code == CloudError.exit_code and KEY not in stdout + stderr


def test_missing_key_and_unpriced_model(monkeypatch, tmp_path, run_cli):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(CloudError, match="no OpenAI API key"):
        read_api_key()
    code, _, err = run_cli("dalle", "--out", str(tmp_path), "--model", "gpt-image-9", "--dry-run")
    assert code == CloudError.exit_code and "no price known for model 'gpt-image-9'" in err


def test_dry_run_sends_nothing(run_cli, tmp_path):
    code, out, _ = run_cli(
        "dalle",
        "--out",
        str(tmp_path / "d"),
        "--model",
        "gpt-image-1",
        "--quality",
        "high",
        "--n",
        "2",
        "--dry-run",
        "--json",
    )
    plan_ = json.loads(out)
    assert code == 0 and plan_["images_to_request"] == 4 and plan_["planned_usd"] == pytest.approx(0.668)
    assert not (tmp_path / "d").exists()
