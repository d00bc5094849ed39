"""The CloudEvents 1.0 JSON envelope (structured mode) that every Kafka message is written in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer

from contracts_schema.primitives import WireModel


def event_time(instant: datetime) -> str:
    """An event's `time` as written on the wire: in UTC, with a `Z`."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CloudEvent(BaseModel):
    """One message on the wire. `data` is the body whose model is chosen by `type`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = Field(
        description="required by CloudEvents 1.0: a message without it is refused"
    )
    id: UUID
    type: str = Field(min_length=1)
    source: str = Field(min_length=1)
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    correlationid: str | None = None
    causationid: str | None = None
    actor: str | None = None

    @field_serializer("time")
    def _time_in_utc(self, value: datetime) -> str:
        return event_time(value)

    @classmethod
    def wrap(
        cls,
        body: WireModel,
        *,
        source: str,
        subject: str,
        actor: str | None,
        correlationid: str | None = None,
        causationid: str | None = None,
        event_id: UUID | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        """Envelope for a message body; its `type` is the body's registered message type.

        Built without validation: every field is typed here and the body is a validated model, so
        checking them again would only cost (most of the time an event takes to make)."""
        from contracts_schema.registry import message_type_of

        if time is not None and time.utcoffset() is None:
            raise ValueError("an event's time must carry its offset")
        new_id = event_id or uuid4()
        return cls.model_construct(
            specversion="1.0",
            id=new_id,
            type=message_type_of(type(body)),
            source=source,
            time=time or datetime.now(UTC),
            subject=subject,
            data=body.model_dump(mode="json"),
            correlationid=correlationid or str(new_id),
            causationid=causationid,
            actor=actor,
        )

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
