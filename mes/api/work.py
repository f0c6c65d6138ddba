"""Work orders, units and their steps, machine runs."""
from __future__ import annotations

from mes import corrections, execution, runs, scopes, units, workorders
from mes.api import present
from mes.api import schemas as s
from mes.api.operation import Call, operation

STEP = "/units/<serial>/steps/<step>"


@operation("POST", "/work-orders", summary="Release a work order; serials are generated", status=201,
           body=s.WorkOrderIn, response=s.WorkOrderOut, permission="workorder.release")
def release_work_order(call: Call) -> s.WorkOrderOut:
    b = call.body
    scopes.check_unit_type(call.session, call.caller, workorders.find_unit_type(call.session, b.unit_type).line)
    order = workorders.release_work_order(call.session, call.user_id, b.unit_type, b.quantity, b.due, b.priority)
    return present.work_order(order)


@operation("GET", "/work-orders", summary="Work orders, newest first (paginated)", query=s.PageQuery,
           response=s.WorkOrderPage, permission="read")
def list_work_orders(call: Call) -> s.WorkOrderPage:
    q = call.query
    rows, total = workorders.list_work_orders(call.session, q.page, q.per_page)
    return s.WorkOrderPage(items=[present.work_order(o) for o in rows], page=q.page, per_page=q.per_page, total=total)


@operation("GET", "/units/<serial>", summary="A unit: status, next step with its characteristics, executions",
           response=s.UnitOut, permission="read")
def get_unit(call: Call, serial: str) -> s.UnitOut:
    return present.unit(units.unit_record(call.session, serial))


@operation("POST", f"{STEP}/start", summary="Start the unit's next step at a station, optionally on a machine",
           body=s.StartIn, response=s.ExecutionOut, permission="step.start")
def start_step(call: Call, serial: str, step: str) -> s.ExecutionOut:
    scopes.check_unit(call.session, call.caller, serial, call.body.machine)
    e = execution.start_step(call.session, call.user_id, serial, step, call.body.station, call.body.machine)
    return present.execution(e)


@operation("POST", f"{STEP}/pause", summary="Pause a running step", body=s.PauseIn, response=s.ExecutionOut,
           permission="step.pause")
def pause_step(call: Call, serial: str, step: str) -> s.ExecutionOut:
    scopes.check_unit(call.session, call.caller, serial)
    return present.execution(execution.pause_step(call.session, call.user_id, serial, step, call.body.note))


@operation("POST", f"{STEP}/resume", summary="Resume a paused step (by someone else: a hand-over)",
           body=s.ResumeIn, response=s.ExecutionOut, permission="step.pause")
def resume_step(call: Call, serial: str, step: str) -> s.ExecutionOut:
    scopes.check_unit(call.session, call.caller, serial)
    return present.execution(execution.resume_step(call.session, call.user_id, serial, step))


@operation("POST", f"{STEP}/abort", summary="Abort a step with a reason; the unit returns to the step's start",
           body=s.AbortIn, response=s.ExecutionOut, permission="step.abort")
def abort_step(call: Call, serial: str, step: str) -> s.ExecutionOut:
    scopes.check_unit(call.session, call.caller, serial)
    return present.execution(execution.abort_step(call.session, call.user_id, serial, step, call.body.reason))


@operation("POST", f"{STEP}/complete", summary="Complete a step with its measurements: passed, or failed with an NCR",
           body=s.CompleteIn, response=s.CompletionOut, permission="step.complete")
def complete_step(call: Call, serial: str, step: str) -> s.CompletionOut:
    scopes.check_unit(call.session, call.caller, serial)
    done = execution.complete_step(call.session, call.user_id, serial, step, call.body.measurements,
                                   instruments=call.body.instruments)
    return present.completion(done)


@operation("POST", "/runs", summary="Start a step for several units together on one machine", status=201,
           body=s.RunIn, response=s.RunOut, permission="step.start")
def start_run(call: Call) -> s.RunOut:
    b = call.body
    scopes.check_machine(call.session, call.caller, b.machine)
    loads = [runs.Load(u.serial, u.position) for u in b.units]
    return present.run(runs.start_run(call.session, call.user_id, b.step, b.machine, loads))


@operation("POST", "/runs/<int:run_id>/complete", summary="Complete a machine run with each unit's measurements",
           body=s.RunCompleteIn, response=s.RunCompletionOut, permission="step.complete")
def complete_run(call: Call, run_id: int) -> s.RunCompletionOut:
    scopes.check_machine(call.session, call.caller, runs.get_run(call.session, run_id).machine.code)
    results = runs.complete_run(call.session, call.user_id, run_id, call.body.measurements,
                                instruments=call.body.instruments)
    run = runs.get_run(call.session, run_id)
    return s.RunCompletionOut(run=present.run(run), results=[
        s.RunResultOut(serial=r.execution.unit.serial, result="passed" if r.passed else "failed",
                       ncr=r.ncr.number if r.ncr else None) for r in results])


@operation("POST", f"{STEP}/measurements/<name>/correct", summary="Void a wrong value (reason, signature) and "
           "record the right one beside it", body=s.CorrectIn, response=s.CorrectionOut, permission="step.complete")
def correct_measurement(call: Call, serial: str, step: str, name: str) -> s.CorrectionOut:
    scopes.check_unit(call.session, call.caller, serial)
    b = call.body
    done = corrections.correct_measurement(call.session, call.user_id, b.pin, serial, step, name, b.value, b.reason)
    return s.CorrectionOut(voided=present.measurement(done.voided), recorded=present.measurement(done.recorded),
                           ncr=done.ncr.number if done.ncr else None)
