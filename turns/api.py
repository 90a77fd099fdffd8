from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictSerializer
from sessions import selectors as session_selectors

from . import services
from .models import Turn


class TurnSerializer(serializers.ModelSerializer):
    class Meta:
        model = Turn
        fields = ["id", "status", "messages", "plan", "step_ids", "reply", "accumulation", "created_at", "finished_at"]


class ChatAnswerSerializer(TurnSerializer):
    waits_for_input = serializers.DictField(
        required=False,
        help_text="Only while a question waits for its answer: {input_id, prompt}. This message is planned once "
        "that question is answered (or cancelled).",
    )

    class Meta(TurnSerializer.Meta):
        fields = [*TurnSerializer.Meta.fields, "waits_for_input"]


class ChatSerializer(StrictSerializer):
    text = serializers.RegexField(r"\S", max_length=4096, help_text="The message (not only white space).")


class SessionTurnsView(APIView):
    @extend_schema(responses=TurnSerializer(many=True))
    def get(self, request: Request, session_id: str) -> Response:
        session = session_selectors.session_get(owner=request.user, session_id=session_id)
        return Response(TurnSerializer(session.turns.order_by("id"), many=True).data)

    @extend_schema(request=ChatSerializer, responses={202: ChatAnswerSerializer})
    def post(self, request: Request, session_id: str) -> Response:
        body = ChatSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        added = services.turn_message_add(session_id=session_id, owner=request.user, text=body.validated_data["text"])
        answer = TurnSerializer(added.turn).data
        if added.waits_for_input:
            answer["waits_for_input"] = added.waits_for_input
        return Response(answer, status=status.HTTP_202_ACCEPTED)
