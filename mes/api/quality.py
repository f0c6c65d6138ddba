"""Quality routes: NCRs and MRB, deviations, holds, buy-offs and acceptance, qualifications, instruments."""
from __future__ import annotations

from flask import request
from sqlalchemy import func, select

from mes import deviations, instruments, qualifications, quality, signoff
from mes.api import quality_schemas as q
from mes.api.operation import Call, operation
from mes.errors import Invalid, UnsupportedMedia
from mes.models import Deviation, Instrument, NcrPhoto, Signature
from mes.models.production import Nonconformance

PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
MAX_PHOTO = 10 * 1024 * 1024


def signature_out(s: Signature) -> q.SignatureOut:
    return q.SignatureOut(id=s.id, printed_name=s.printed_name, meaning=s.meaning, at=s.at,
                          content_hash=s.content_hash)


def ncr_out(call: Call, ncr: Nonconformance) -> q.NcrOut:
    record = quality.disposition_of(call.session, ncr)
    photos = call.session.scalar(select(func.count()).select_from(NcrPhoto).filter_by(ncr_id=ncr.id)) or 0
    item = ncr.received_item
    return q.NcrOut(
        number=ncr.number, serial=ncr.unit.serial if ncr.unit else None,
        part_number=item.part.part_number if item else None, lot=item.identifier if item else None,
        step=ncr.step_code, defect_code=ncr.defect_code,
        description=ncr.description, failing_values=ncr.failing_values, status=ncr.status, opened_at=ncr.opened_at,
        closed_at=ncr.closed_at, photos=photos,
        disposition=q.DispositionOut(
            decision=record.decision, rework_step=record.rework_step_code, note=record.note,
            signature=signature_out(record.signature),
            mrb_signature=signature_out(record.mrb_signature) if record.mrb_signature else None,
        ) if record else None,
    )


@operation("POST", "/ncrs", summary="Raise an NCR on a unit or on received material; it is held until the NCR "
           "is dispositioned", status=201, body=q.NcrIn, response=q.NcrOut, permission="ncr.raise")
def raise_ncr(call: Call) -> q.NcrOut:
    b = call.body
    if b.serial is None:
        return ncr_out(call, quality.open_material_ncr(call.session, call.user_id, b.part_number, b.lot,
                                                       b.defect_code, b.description))
    return ncr_out(call, quality.open_ncr(call.session, call.user_id, b.serial, b.defect_code, b.description, b.step))


@operation("GET", "/ncrs", summary="NCRs by status, serial, step or defect code, newest first (paginated)",
           query=q.NcrQuery, response=q.NcrPage, permission="read")
def list_ncrs(call: Call) -> q.NcrPage:
    f = call.query
    rows, total = quality.list_ncrs(call.session, status=f.status, serial=f.serial, lot=f.lot, step=f.step,
                                    defect_code=f.defect_code, page=f.page, per_page=f.per_page)
    return q.NcrPage(items=[ncr_out(call, n) for n in rows], page=f.page, per_page=f.per_page, total=total)


@operation("GET", "/ncrs/<number>", summary="One NCR with its failing values and disposition",
           response=q.NcrOut, permission="read")
def get_ncr(call: Call, number: str) -> q.NcrOut:
    return ncr_out(call, quality.get_ncr(call.session, number))


@operation("POST", "/ncrs/<number>/photos", summary="Attach a photo (JPEG, PNG or WebP, up to 10 MiB)",
           status=201, response=q.PhotoOut, permission="ncr.raise", upload=PHOTO_TYPES, max_body=MAX_PHOTO)
def add_photo(call: Call, number: str) -> q.PhotoOut:
    media = (request.mimetype or "").lower()
    if media not in PHOTO_TYPES:
        raise UnsupportedMedia(f"send the photo as one of {', '.join(PHOTO_TYPES)}", "Content-Type")
    data = request.get_data()
    if not data:
        raise Invalid("the photo is empty", "body")
    ncr = quality.get_ncr(call.session, number)
    photo = NcrPhoto(ncr_id=ncr.id, content_type=media, data=data, uploaded_by_id=call.user_id)
    call.session.add(photo)
    call.session.flush()
    return q.PhotoOut(id=photo.id, ncr=ncr.number, content_type=media, size=len(data))


@operation("POST", "/ncrs/<number>/disposition", summary="Disposition an NCR (signed); repair and use-as-is "
           "then need MRB approval", body=q.DispositionIn, response=q.NcrOut, permission="ncr.disposition")
def disposition(call: Call, number: str) -> q.NcrOut:
    b = call.body
    return ncr_out(call, quality.disposition(call.session, call.user_id, number, b.decision, b.pin, b.rework_step,
                                             b.note))


@operation("POST", "/ncrs/<number>/mrb-approval", summary="Approve a repair or use-as-is at MRB: a second "
           "quality signature by another person", body=q.MrbIn, response=q.NcrOut, permission="ncr.disposition")
def mrb_approval(call: Call, number: str) -> q.NcrOut:
    return ncr_out(call, quality.mrb_approve(call.session, call.user_id, number, call.body.pin, call.body.note))


def deviation_out(d: Deviation) -> q.DeviationOut:
    return q.DeviationOut(number=d.number, step=d.step_code, characteristic=d.characteristic,
                          lower=d.lower, upper=d.upper, serials=d.serials, work_order_id=d.work_order_id,
                          valid_from=d.valid_from, valid_until=d.valid_until, reason=d.reason,
                          signature=signature_out(d.signature))


@operation("POST", "/deviations", summary="Approve a deviation: wider limits for one characteristic on named "
           "serials or a work order, until a date (signed)", status=201, body=q.DeviationIn,
           response=q.DeviationOut, permission="deviation.approve")
def create_deviation(call: Call) -> q.DeviationOut:
    b = call.body
    d = deviations.create_deviation(call.session, call.user_id, b.pin, b.step, b.characteristic, b.lower, b.upper,
                                    b.valid_until, b.reason, serials=b.serials, work_order=b.work_order)
    return deviation_out(d)


@operation("GET", "/deviations", summary="Deviations, newest first", response=q.DeviationList, permission="read")
def list_deviations(call: Call) -> q.DeviationList:
    return q.DeviationList(items=[deviation_out(d) for d in deviations.list_deviations(call.session)])


@operation("POST", "/units/<serial>/hold", summary="Put a unit on hold, with the reason", body=q.ReasonIn,
           response=q.UnitStateOut, permission="unit.hold")
def hold(call: Call, serial: str) -> q.UnitStateOut:
    unit = quality.place_hold(call.session, call.user_id, serial, call.body.reason)
    return q.UnitStateOut(serial=unit.serial, status=unit.status, on_hold=unit.on_hold)


@operation("POST", "/units/<serial>/release", summary="Release a unit's holds (it stays held while an NCR is open)",
           body=q.ReasonIn, response=q.UnitStateOut, permission="hold.release")
def release(call: Call, serial: str) -> q.UnitStateOut:
    unit = quality.release_holds(call.session, call.user_id, serial, call.body.reason)
    return q.UnitStateOut(serial=unit.serial, status=unit.status, on_hold=unit.on_hold)


@operation("POST", "/units/<serial>/steps/<step>/buyoff", summary="Sign the inspection buy-off of a passed step "
           "(not by anyone who worked on it)", body=q.SignIn, response=q.BuyoffOut, permission="step.buyoff")
def buyoff(call: Call, serial: str, step: str) -> q.BuyoffOut:
    execution = signoff.buy_off(call.session, call.user_id, serial, step, call.body.pin)
    signature = call.session.get(Signature, execution.buyoff_signature_id)
    return q.BuyoffOut(serial=serial, step=step, execution=execution.id, signature=signature_out(signature))


@operation("POST", "/units/<serial>/accept", summary="Final acceptance: a quality signature on a unit past its last "
           "step with no open NCR", body=q.SignIn, response=q.AcceptanceOut, permission="unit.accept")
def accept(call: Call, serial: str) -> q.AcceptanceOut:
    unit = signoff.accept(call.session, call.user_id, serial, call.body.pin)
    signature = call.session.get(Signature, unit.acceptance_signature_id)
    return q.AcceptanceOut(serial=serial, status=unit.status, signature=signature_out(signature))


@operation("POST", "/users/<name>/qualifications", summary="Record or renew a qualification of a person",
           body=q.QualificationIn, response=q.QualificationOut, permission="qualification.admin")
def qualify(call: Call, name: str) -> q.QualificationOut:
    held = qualifications.qualify(call.session, call.user_id, name, call.body.qualification, call.body.valid_until)
    return q.QualificationOut(user=name, qualification=held.qualification_code, valid_until=held.valid_until)


def instrument_out(i: Instrument) -> q.InstrumentOut:
    return q.InstrumentOut(code=i.code, name=i.name, kind=i.kind, calibration_due=i.calibration_due,
                           active=i.active)


@operation("POST", "/instruments", summary="Register a measuring instrument with its calibration due date",
           status=201, body=q.InstrumentIn, response=q.InstrumentOut, permission="instrument.admin")
def add_instrument(call: Call) -> q.InstrumentOut:
    b = call.body
    return instrument_out(instruments.add_instrument(call.session, call.user_id, b.code, b.name, b.kind,
                                                     b.calibration_due))


@operation("POST", "/instruments/<code>/calibrations", summary="Record a calibration (a failed one takes the "
           "instrument out of use)", body=q.CalibrationIn, response=q.InstrumentOut, permission="instrument.admin")
def calibrate(call: Call, code: str) -> q.InstrumentOut:
    b = call.body
    return instrument_out(instruments.calibrate(call.session, call.user_id, code, b.due, b.passed, b.note))


@operation("GET", "/instruments/<code>/measurements", summary="What an instrument measured since a time (recall)",
           query=q.SinceQuery, response=q.InstrumentMeasurements, permission="read")
def instrument_measurements(call: Call, code: str) -> q.InstrumentMeasurements:
    rows = instruments.measurements_by(call.session, code, call.query.since)
    return q.InstrumentMeasurements(instrument=code, items=[
        q.InstrumentMeasurementOut(serial=m.execution.unit.serial, step=m.execution.step_code,
                                   execution=m.execution_id, name=m.name, value=m.value_text, unit=m.unit,
                                   passed=m.passed, recorded_at=m.recorded_at) for m in rows])
