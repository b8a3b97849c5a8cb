"""Workspace tab: what this browser's workspace holds and what its jobs are doing.

The token is the workspace's only key: copy it to open the same workspace in another browser, paste
another one to switch, start over for an empty one. The panel lists photo sets, training sets, models,
portraits, maps, motion and lab results with dates and sizes; any of them can be deleted, a model
downloaded as a zip. The jobs table refreshes itself while the page is open (a ``gr.Timer``, which the
browser pauses in a hidden tab) and shows each job's queue position or progress; any unfinished job can
be cancelled.
"""

from __future__ import annotations

import time

import gradio as gr

from ..jobs.store import UNFINISHED
from ..portrait.model_folder import finished_run
from ..wording import plural
from .errors import user_errors
from .jobs import waiting_text

TITLE = "Workspace"
REFRESH_SECONDS = 2.0


def item_note(workspace, item) -> str:
    """What a panel row says besides name, date and size: whether a model is unfinished."""
    if item.section == "models" and finished_run(workspace.item("models", item.name)) is None:
        return "unfinished: train again with this name to resume from its checkpoint"
    return ""


def contents_table(workspace) -> list[list]:
    return [
        [
            item.section,
            item.name,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(item.modified)),
            round(item.bytes / 1e6, 1),
            item_note(workspace, item),
        ]
        for item in workspace.items()
    ]


def item_choices(workspace) -> list[str]:
    return [f"{item.section}/{item.name}" for item in workspace.items()]


def jobs_table(context, workspace) -> list[list]:
    rows = []
    for job in context.jobs.list(workspace.id, limit=30):
        state = waiting_text(context, job) if not job.done else (job.error or job.message or "")
        rows.append([job.id, job.kind, job.status, state, time.strftime("%H:%M:%S", time.localtime(job.created))])
    return rows


def unfinished(context, workspace) -> list[str]:
    return [job.id for job in context.jobs.list(workspace.id, UNFINISHED)]


def usage_text(context, workspace) -> str:
    used = workspace.usage() / 1e6
    models = len(workspace.items("models"))
    return f"Using **{used:.1f} MB** of {context.workspaces.max_bytes / 1e6:.0f} MB · {plural(models, 'model')}" + (
        f" · unused for {context.workspaces.max_age_days:g} days, this workspace is removed"
        if workspace.anonymous
        else ""
    )


def panel(context, token: str):
    """(usage, contents table, item choices, jobs table, cancellable job ids) of the workspace."""
    workspace = context.workspace(token)
    items = item_choices(workspace)
    jobs = unfinished(context, workspace)
    return (
        usage_text(context, workspace),
        contents_table(workspace),
        gr.update(choices=items, value=items[0] if items else None),
        jobs_table(context, workspace),
        gr.update(choices=jobs, value=jobs[0] if jobs else None),
    )


def split_item(choice: str | None) -> tuple[str, str]:
    section, _, name = (choice or "").partition("/")
    if not name:
        raise gr.Error("Pick something of your workspace first.")
    return section, name


def delete_item(context, token: str, choice: str | None):
    workspace = context.workspace(token)
    section, name = split_item(choice)
    busy = [
        job
        for job in context.jobs.list(workspace.id, UNFINISHED)
        if name
        in (job.params.get("name"), job.params.get("dataset"), job.params.get("photos"), job.params.get("model"))
    ]
    if busy:
        raise gr.Error(f"A {busy[0].kind} job uses '{name}': cancel it or wait for it first.")
    workspace.delete(section, name)
    return panel(context, token)


def download_model(context, token: str, choice: str | None) -> str:
    section, name = split_item(choice)
    if section != "models":
        raise gr.Error("Only models can be downloaded as a zip: pick one under models/.")
    return str(context.workspace(token).model_zip(name))


def open_token(context, pasted: str) -> str:
    """Switch this browser to the workspace of a pasted token (checked: an unknown one is refused)."""
    context.workspace((pasted or "").strip())
    return pasted.strip()


def start_over(context, token: str, delete: bool) -> str:
    """A new empty workspace for this browser; with ``delete``, the current one is cancelled and removed."""
    if delete:
        workspace = context.workspace(token)
        for job_id in unfinished(context, workspace):
            context.jobs.cancel(job_id, workspace.id)
        context.workspaces.delete(workspace)
    new_token, _ = context.workspaces.create()
    return new_token


def build(context, token) -> None:
    gr.Markdown(
        "Your photos, models and portraits stay in this workspace across reloads and browser restarts. "
        "Its token is the only key: **copy it** to open the same workspace in another browser; whoever "
        "has it can see and change everything here."
    )
    with gr.Row():
        shown = gr.Textbox(label="Your workspace token", type="password", buttons=["copy"], interactive=False)
        pasted = gr.Textbox(label="Open another workspace: paste its token", type="password")
        switch = gr.Button("Open", size="sm")
    with gr.Row():
        fresh = gr.Button("Start over (new empty workspace)")
        wipe = gr.Checkbox(label="and delete this one with everything in it")
    usage = gr.Markdown()
    contents = gr.Dataframe(
        headers=["section", "name", "modified", "MB", "note"], label="Contents", interactive=False, wrap=True
    )
    with gr.Row():
        item = gr.Dropdown(choices=[], label="Item", allow_custom_value=True)
        delete = gr.Button("Delete item", variant="stop", size="sm")
        download = gr.Button("Download model (zip)", size="sm")
    archive = gr.File(label="Model zip: LoRA, kohya file, model card")
    jobs = gr.Dataframe(headers=["job", "kind", "status", "progress", "queued at"], label="Jobs", interactive=False)
    with gr.Row():
        job = gr.Dropdown(choices=[], label="Unfinished job", allow_custom_value=True)
        cancel = gr.Button("Cancel job", size="sm")
    timer = gr.Timer(REFRESH_SECONDS)
    outputs = [usage, contents, item, jobs, job]

    @user_errors
    def refresh(token_value):
        return (token_value, *panel(context, token_value))

    @user_errors
    def refresh_jobs(token_value):
        workspace = context.workspace(token_value)
        return jobs_table(context, workspace)

    @user_errors
    def cancel_job(token_value, job_id):
        workspace = context.workspace(token_value)
        if not job_id:
            raise gr.Error("No unfinished job to cancel.")
        context.jobs.cancel(job_id, workspace.id)
        return panel(context, token_value)

    token.change(refresh, token, [shown, *outputs], api_name="contents")
    timer.tick(refresh_jobs, token, jobs, api_visibility="undocumented")
    delete.click(user_errors(lambda t, c: delete_item(context, t, c)), [token, item], outputs, api_name="delete_item")
    download.click(user_errors(lambda t, c: download_model(context, t, c)), [token, item], archive, api_name="download")
    cancel.click(cancel_job, [token, job], outputs, api_name="cancel_job")
    switch.click(user_errors(lambda p: open_token(context, p)), pasted, token, api_name="open_workspace")
    fresh.click(user_errors(lambda t, w: start_over(context, t, w)), [token, wipe], token, api_name="start_over")
